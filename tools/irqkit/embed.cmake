# SPDX-License-Identifier: BSD-2-Clause
# Turn the default scenario (IN) into a C source (OUT) defining
# tool_default_scenario[] and tool_default_scenario_len.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
"/* Generated from tools/irqkit/default.scn by embed.cmake; do not edit. */\n"
"extern const char tool_default_scenario[];\n"
"extern const unsigned long tool_default_scenario_len;\n"
"const char tool_default_scenario[] = {\n${bytes}0x00 };\n"
"const unsigned long tool_default_scenario_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
