#pragma once
// Every output file is written to a temporary name beside its target and renamed into place, so an
// interrupted run never leaves a truncated checkpoint, table or image where a good one was.
#include <functional>
#include <ostream>
#include <string>

namespace biascka {

// Calls write(out) on a stream to `path`.tmp-<pid>, flushes, fsyncs, renames to `path`. Throws on failure
// naming the file; the temporary is removed.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
void write_text_atomic(const std::string& path, const std::string& text);
// Reads a whole file; throws "PATH: cannot read (reason)".
std::string read_file(const std::string& path);

}  // namespace biascka
