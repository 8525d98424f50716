/*
 * Prints the layout facts poolguard reads of CPython directly (shim/python/pyoffsets.c),
 * as "name value" lines, computed by the compiler from one CPython's own internal headers. Built
 * and run by the unit test pyoffsets (tests/unit/check_pyoffsets.c) against every Python found
 * with its headers, which compares each line with the committed table. Not part of poolguard.
 *
 *   cc -DPy_BUILD_CORE -I<include/python3.X> -I<include/python3.X/internal> pyoffsets_probe.c
 *
 * A name that does not apply to this version prints -1.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_interp.h>
#endif
#include <internal/pycore_pystate.h>
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_dict.h>
#include <internal/pycore_frame.h>
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_object.h>
#endif

#define P(name, v) printf("%s %ld\n", name, (long)(v))
#define NA(name) P(name, -1)

#if PY_VERSION_HEX < 0x030b0000
/* Before 3.11 the dict internals are private to dictobject.c; its layout (Objects/dict-common.h),
 * restated: the probe cannot see it, the table states it by hand. */
typedef struct {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    void *dk_lookup;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
} probe_keys;
#endif

int main(void)
{
    printf("version %d.%d\n", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    P("runtime_interp_head", offsetof(_PyRuntimeState, interpreters.head));
    P("runtime_main_thread", offsetof(_PyRuntimeState, main_thread));
    P("interp_next", offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030b0000
    P("interp_threads_head", offsetof(PyInterpreterState, threads.head));
#else
    P("interp_threads_head", offsetof(PyInterpreterState, tstate_head));
#endif
    P("ts_next", offsetof(PyThreadState, next));
    P("ts_thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030b0000
    P("ts_native_thread_id", offsetof(PyThreadState, native_thread_id));
#else
    NA("ts_native_thread_id");
#endif
#if PY_VERSION_HEX >= 0x030d0000
    P("ts_frame", offsetof(PyThreadState, current_frame));
    NA("cframe_current_frame");
#elif PY_VERSION_HEX >= 0x030b0000
    P("ts_frame", offsetof(PyThreadState, cframe));
    P("cframe_current_frame", offsetof(_PyCFrame, current_frame));
#else
    P("ts_frame", offsetof(PyThreadState, frame));
    NA("cframe_current_frame");
#endif

#if PY_VERSION_HEX >= 0x030b0000
    P("fr_back", offsetof(_PyInterpreterFrame, previous));
#if PY_VERSION_HEX >= 0x030d0000
    P("fr_code", offsetof(_PyInterpreterFrame, f_executable));
    P("fr_lasti", offsetof(_PyInterpreterFrame, instr_ptr));
#else
    P("fr_code", offsetof(_PyInterpreterFrame, f_code));
    P("fr_lasti", offsetof(_PyInterpreterFrame, prev_instr));
#endif
    P("fr_localsplus", offsetof(_PyInterpreterFrame, localsplus));
    P("fr_owner", offsetof(_PyInterpreterFrame, owner));
    P("fo_generator", FRAME_OWNED_BY_GENERATOR);
#if PY_VERSION_HEX >= 0x030c0000
    P("fo_cstack", FRAME_OWNED_BY_CSTACK);
#else
    NA("fo_cstack");
#endif
    P("fobj_frame", offsetof(PyFrameObject, f_frame));
#else
    P("fr_back", offsetof(PyFrameObject, f_back));
    P("fr_code", offsetof(PyFrameObject, f_code));
    P("fr_lasti", offsetof(PyFrameObject, f_lasti));
    P("fr_localsplus", offsetof(PyFrameObject, f_localsplus));
    NA("fr_owner");
    NA("fo_generator");
    NA("fo_cstack");
    NA("fobj_frame");
#endif

    P("co_filename", offsetof(PyCodeObject, co_filename));
    P("co_name", offsetof(PyCodeObject, co_name));
    P("co_firstlineno", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030b0000
    P("co_qualname", offsetof(PyCodeObject, co_qualname));
    P("co_nlocals", offsetof(PyCodeObject, co_nlocalsplus));
    P("co_varnames", offsetof(PyCodeObject, co_localsplusnames));
    P("co_linetable", offsetof(PyCodeObject, co_linetable));
    P("co_code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
    P("co_firsttraceable", offsetof(PyCodeObject, _co_firsttraceable));
#else
    NA("co_qualname");
    P("co_nlocals", offsetof(PyCodeObject, co_nlocals));
    P("co_varnames", offsetof(PyCodeObject, co_varnames));
#if PY_VERSION_HEX >= 0x030a0000
    P("co_linetable", offsetof(PyCodeObject, co_linetable));
#else
    P("co_linetable", offsetof(PyCodeObject, co_lnotab));
#endif
    NA("co_code_adaptive");
    NA("co_firsttraceable");
#endif

    P("uni_length", offsetof(PyASCIIObject, length));
    P("uni_state", offsetof(PyASCIIObject, state));
    P("uni_ascii_size", sizeof(PyASCIIObject));
    P("uni_compact_size", sizeof(PyCompactUnicodeObject));
    {
        /* The state bits: kind, compact and ascii, as one word. */
        PyASCIIObject a;
        memset(&a, 0, sizeof a);
        a.state.kind = 7;
        unsigned kind_bits;
        memcpy(&kind_bits, &a.state, sizeof kind_bits);
        P("uni_kind_mask", kind_bits);
        memset(&a, 0, sizeof a);
        a.state.compact = 1;
        memcpy(&kind_bits, &a.state, sizeof kind_bits);
        P("uni_compact_bit", kind_bits);
        memset(&a, 0, sizeof a);
        a.state.ascii = 1;
        memcpy(&kind_bits, &a.state, sizeof kind_bits);
        P("uni_ascii_bit", kind_bits);
    }
#if PY_VERSION_HEX >= 0x030c0000
    P("long_size", offsetof(PyLongObject, long_value.lv_tag));
    P("long_digit", offsetof(PyLongObject, long_value.ob_digit));
#else
    P("long_size", offsetof(PyVarObject, ob_size));
    P("long_digit", offsetof(PyLongObject, ob_digit));
#endif
    P("long_shift", PyLong_SHIFT);

    P("tp_name", offsetof(PyTypeObject, tp_name));
    P("tp_basicsize", offsetof(PyTypeObject, tp_basicsize));
    P("tp_flags", offsetof(PyTypeObject, tp_flags));
    P("tp_dictoffset", offsetof(PyTypeObject, tp_dictoffset));
    P("tp_mro", offsetof(PyTypeObject, tp_mro));
#if PY_VERSION_HEX >= 0x030b0000
    P("ht_cached_keys", offsetof(PyHeapTypeObject, ht_cached_keys));
    P("flag_managed_dict", Py_TPFLAGS_MANAGED_DICT);
#else
    NA("ht_cached_keys");
    NA("flag_managed_dict");
#endif
#if PY_VERSION_HEX >= 0x030b0000 && PY_VERSION_HEX < 0x030c0000
    {
        static PyObject obj[8];
        P("managed_values_offset", (char *)_PyObject_ValuesPointer(&obj[4]) - (char *)&obj[4]);
    }
#else
    NA("managed_values_offset");
#endif
#if PY_VERSION_HEX >= 0x030d0000
    P("flag_inline_values", Py_TPFLAGS_INLINE_VALUES);
    P("managed_dict_offset", MANAGED_DICT_OFFSET);
#elif PY_VERSION_HEX >= 0x030c0000
    NA("flag_inline_values");
    {
        /* The dict-or-values word's place, as the interpreter's own accessor computes it. */
        static PyObject obj[8];
        P("managed_dict_offset", (char *)_PyObject_DictOrValuesPointer(&obj[4]) - (char *)&obj[4]);
    }
#elif PY_VERSION_HEX >= 0x030b0000
    NA("flag_inline_values");
    P("managed_dict_offset", MANAGED_DICT_OFFSET);
#else
    NA("flag_inline_values");
    NA("managed_dict_offset");
#endif

    P("dict_keys", offsetof(PyDictObject, ma_keys));
    P("dict_values", offsetof(PyDictObject, ma_values));
#if PY_VERSION_HEX >= 0x030b0000
    P("dk_size", offsetof(PyDictKeysObject, dk_log2_size));
    P("dk_index_bytes", offsetof(PyDictKeysObject, dk_log2_index_bytes));
    P("dk_kind", offsetof(PyDictKeysObject, dk_kind));
    P("dk_nentries", offsetof(PyDictKeysObject, dk_nentries));
    P("dk_indices", offsetof(PyDictKeysObject, dk_indices));
    P("dv_values", offsetof(PyDictValues, values));
#else
    P("dk_size", offsetof(probe_keys, dk_size));
    NA("dk_index_bytes");
    NA("dk_kind");
    P("dk_nentries", offsetof(probe_keys, dk_nentries));
    P("dk_indices", offsetof(probe_keys, dk_indices));
    P("dv_values", 0);
#endif

    P("set_used", offsetof(PySetObject, used));
    P("set_mask", offsetof(PySetObject, mask));
    P("set_table", offsetof(PySetObject, table));
    P("tuple_items", offsetof(PyTupleObject, ob_item));
    P("list_items", offsetof(PyListObject, ob_item));
    P("var_size", offsetof(PyVarObject, ob_size));
    P("wr_object", offsetof(PyWeakReference, wr_object));
    P("func_code", offsetof(PyFunctionObject, func_code));
    P("func_qualname", offsetof(PyFunctionObject, func_qualname));
    P("meth_func", offsetof(PyMethodObject, im_func));
    P("bytes_sval", offsetof(PyBytesObject, ob_sval));
    return 0;
}
