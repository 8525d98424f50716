/*
 * Escaping text for XML and HTML output (JUnit, HTML): the five special characters, and control
 * characters XML 1.0 cannot carry at all (replaced, since reports may hold any bytes).
 */
#ifndef POOLGUARD_XML_ESCAPE_H
#define POOLGUARD_XML_ESCAPE_H

#include <stdio.h>

static inline void xml_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
                fputc('?', out);
            else
                fputc(c, out);
        }
    }
}

#endif
