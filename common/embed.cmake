# embed.cmake: write IN as a C byte array `ww__default_yaml` into OUT.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from config/windwatch.yaml by common/embed.cmake. Do not edit. */\n#include <stddef.h>\nconst char ww__default_yaml[] = {\n${bytes}0x00};\nconst size_t ww__default_yaml_len = ${len};\n")
