#pragma once
// `text` as it may reach a terminal or a log: control characters (newline, escape, ...), DEL, C1 controls
// and bytes that are not UTF-8 become \n, \t, \xNN escapes, so that a file name holding a newline or an
// escape sequence cannot forge a second message line or recolour the terminal. Every line biascka prints
// about files (errors, warnings, notes, progress, reports) goes through it; a report of several lines is
// printed line by line (workflows/progress.h note_block), each line escaped.
#include <string>

namespace biascka {

std::string printable(const std::string& text);

}  // namespace biascka
