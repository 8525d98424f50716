/*
 * Where CPython keeps what poolguard reads of it directly: from outside (analyzer/attach/pyremote*.c)
 * and, for a frame's fast locals before 3.12, from inside (python_read.c). Byte offsets of the
 * interpreter's structures, one row per minor version (3.8 to 3.13, x86_64, release builds: the
 * default and Debian's). Written from each version's own headers and checked against them by the
 * unit test pyoffsets (tests/unit/check_pyoffsets.c builds tests/lib/pyoffsets_probe.c against
 * every Python with its headers on the machine and compares every line). -1: not in that version.
 */
#ifndef POOLGUARD_PYOFFSETS_H
#define POOLGUARD_PYOFFSETS_H

/* Every fact, in the probe's order and with the probe's names. */
#define PYOFF_FIELDS(X)                                                                            \
    X(runtime_interp_head)                                                                         \
    X(runtime_main_thread)                                                                         \
    X(interp_next)                                                                                 \
    X(interp_threads_head)                                                                         \
    X(ts_next)                                                                                     \
    X(ts_thread_id)                                                                                \
    X(ts_native_thread_id)                                                                         \
    X(ts_frame)                                                                                    \
    X(cframe_current_frame)                                                                        \
    X(fr_back)                                                                                     \
    X(fr_code)                                                                                     \
    X(fr_lasti)                                                                                    \
    X(fr_localsplus)                                                                               \
    X(fr_owner)                                                                                    \
    X(fo_generator)                                                                                \
    X(fo_cstack)                                                                                   \
    X(fobj_frame)                                                                                  \
    X(co_filename)                                                                                 \
    X(co_name)                                                                                     \
    X(co_firstlineno)                                                                              \
    X(co_qualname)                                                                                 \
    X(co_nlocals)                                                                                  \
    X(co_varnames)                                                                                 \
    X(co_linetable)                                                                                \
    X(co_code_adaptive)                                                                            \
    X(co_firsttraceable)                                                                           \
    X(uni_length)                                                                                  \
    X(uni_state)                                                                                   \
    X(uni_ascii_size)                                                                              \
    X(uni_compact_size)                                                                            \
    X(uni_kind_mask)                                                                               \
    X(uni_compact_bit)                                                                             \
    X(uni_ascii_bit)                                                                               \
    X(long_size)                                                                                   \
    X(long_digit)                                                                                  \
    X(long_shift)                                                                                  \
    X(tp_name)                                                                                     \
    X(tp_basicsize)                                                                                \
    X(tp_flags)                                                                                    \
    X(tp_dictoffset)                                                                               \
    X(tp_mro)                                                                                      \
    X(ht_cached_keys)                                                                              \
    X(flag_managed_dict)                                                                           \
    X(managed_values_offset)                                                                       \
    X(flag_inline_values)                                                                          \
    X(managed_dict_offset)                                                                         \
    X(dict_keys)                                                                                   \
    X(dict_values)                                                                                 \
    X(dk_size)                                                                                     \
    X(dk_index_bytes)                                                                              \
    X(dk_kind)                                                                                     \
    X(dk_nentries)                                                                                 \
    X(dk_indices)                                                                                  \
    X(dv_values)                                                                                   \
    X(set_used)                                                                                    \
    X(set_mask)                                                                                    \
    X(set_table)                                                                                   \
    X(tuple_items)                                                                                 \
    X(list_items)                                                                                  \
    X(var_size)                                                                                    \
    X(wr_object)                                                                                   \
    X(func_code)                                                                                   \
    X(func_qualname)                                                                               \
    X(meth_func)                                                                                   \
    X(bytes_sval)

struct pyoffs {
    int minor; /* 3.minor */
#define PYOFF_DECL(name) long name;
    PYOFF_FIELDS(PYOFF_DECL)
#undef PYOFF_DECL
};

/* The row of 3.minor, NULL for a version not in the table. */
const struct pyoffs *pyoff_for_minor(int minor);
/* One fact by its probe name: 0 and *out, or -1 for an unknown name. */
int pyoff_get(const struct pyoffs *o, const char *name, long *out);

#endif
