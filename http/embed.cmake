#  Writes the dashboard page as a C array (a NUL at its end), so shicd
#  serves it from the binary: cmake -DINPUT=page.html -DOUTPUT=header.h -P embed.cmake
file (READ "${INPUT}" hex HEX)
string (REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string (REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file (WRITE "${OUTPUT}.tmp" "//  Generated from http/dashboard.html by http/embed.cmake: do not edit\n"
    "static const char shic_dashboard_html [] = {\n${bytes}0x00\n};\n")
file (RENAME "${OUTPUT}.tmp" "${OUTPUT}")
