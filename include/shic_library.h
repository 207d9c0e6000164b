/*  =========================================================================
    shic_library - what libshic exports

    The library's objects are compiled with -fvisibility=hidden: a symbol
    is visible outside libshic.so only when its declaration in an installed
    header carries SHIC_EXPORT. A program that links libshic.a with
    ENABLE_EXPORTS (shicd) exports the same symbols to the backend packages
    it loads, and nothing else.
    =========================================================================
*/

#ifndef SHIC_LIBRARY_H_INCLUDED
#define SHIC_LIBRARY_H_INCLUDED

#if defined (__GNUC__) && __GNUC__ >= 4
#   define SHIC_EXPORT __attribute__ ((visibility ("default")))
#else
#   define SHIC_EXPORT
#endif

#endif
