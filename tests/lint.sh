#!/bin/sh
# ctest "lint": keeps src, include and tests clean under the project's
# .clang-format and .clang-tidy, so that a slip fails the suite instead of
# piling up until someone runs the tools by hand.
# Usage: tests/lint.sh SOURCE_DIR BUILD_DIR (with compile_commands.json);
# CLANG_FORMAT, RUN_CLANG_TIDY and CLANG_TIDY may name the tools.
set -eu
build=$(cd "$2" && pwd)
cd "$1"
find src include tests -name '*.[ch]' -exec "${CLANG_FORMAT:-clang-format}" --dry-run -Werror {} +
# Non-zero on any diagnostic: .clang-tidy has WarningsAsErrors: '*'.
"${RUN_CLANG_TIDY:-run-clang-tidy}" -quiet -clang-tidy-binary "${CLANG_TIDY:-clang-tidy}" -p "$build"
