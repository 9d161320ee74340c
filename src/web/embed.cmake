# cmake -DIN=page.html -DOUT=page.c -P embed.cmake: the page as a C array (web.h).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from page.html by embed.cmake; do not edit. */\n"
     "#include <stddef.h>\n#include \"web.h\"\n"
     "const unsigned char web_page[] = {\n${body}0x00};\n"
     "const size_t web_page_len = ${len};\n")
