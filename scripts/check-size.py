#!/usr/bin/env python3
"""The size limits of issue 17: no source file over 600 lines of non-test code, and no function over 80 lines.

Counts the Rust code under crates/ and src-tauri/ (tests/ and benches are test code, as are `#[cfg(test)]`
modules). A function's length runs from its `fn` line to its closing brace. Prints what is over and exits 1.
"""

import pathlib
import re
import sys

FILE_LIMIT = 600
FUNCTION_LIMIT = 80
ROOTS = ["crates", "src-tauri/src"]
SKIP_PARTS = {"target", "tests", "benches", "fuzz"}

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def strip_strings(line):
    """The line without string and char literals and comments, so braces inside them do not count."""
    line = re.sub(r'r#*"[^"]*"#*', '""', line)
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def test_module_start(lines):
    """The index of the `#[cfg(test)]` line of a trailing test module, or len(lines)."""
    for index, line in enumerate(lines):
        is_test_cfg = re.fullmatch(r"#\[cfg\((test|all\(test\b.*|any\(test\b.*)\)\]", line.strip())
        if is_test_cfg and index + 1 < len(lines) and re.match(r"\s*mod \w+", lines[index + 1]):
            return index
    return len(lines)


def functions(lines):
    """(name, first line number, length) of every function with a body."""
    found = []
    for start, line in enumerate(lines):
        match = FN.match(line)
        if not match:
            continue
        depth, opened = 0, False
        for end in range(start, len(lines)):
            code = strip_strings(lines[end])
            if not opened and ";" in code and "{" not in code:
                break  # a declaration without a body (a trait's)
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            if opened and depth <= 0:
                found.append((match.group(7), start + 1, end - start + 1))
                break
    return found


def main():
    problems = []
    for root in ROOTS:
        for path in sorted(pathlib.Path(root).rglob("*.rs")):
            if SKIP_PARTS & set(path.parts) or path.name == "tests.rs":
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            code = lines[: test_module_start(lines)]
            if len(code) > FILE_LIMIT:
                problems.append(f"{path}: {len(code)} lines of non-test code (limit {FILE_LIMIT})")
            for name, line, length in functions(code):
                if length > FUNCTION_LIMIT:
                    problems.append(f"{path}:{line}: fn {name} is {length} lines (limit {FUNCTION_LIMIT})")
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-size: {len(problems)} over the limits", file=sys.stderr)
        return 1
    print(f"check-size: every file under {FILE_LIMIT} lines of non-test code, every function under {FUNCTION_LIMIT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
