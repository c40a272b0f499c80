// Writing an output file in one call without the GIL: the merge's PNGs, written by the core in
// the same call that makes them (panoseg.util.atomic.atomic_write_bytes did it with six system
// calls from Python, each releasing and retaking the GIL: ~15% of a two-thread merge).
#pragma once
#include <cstddef>
#include <cstdint>

namespace panoseg {

enum class FileWrite {
  kWritten,   // `path` now holds the data
  kDeclined,  // not attempted: a path the caller's writer must judge (below)
  kFailed,    // a system call failed; nothing is left behind (the temporary file removed)
};

// Writes `data` to `path` as panoseg.util.atomic.atomic_write_bytes does for a new output or a
// regular file: a new temporary file in the same folder (".tmp-<name>.<pid>-c<kernel thread
// id>", one byte longer than that function's name, so a name too long here is written there;
// created with O_EXCL | O_NOFOLLOW and the umask's permissions), renamed over `path`. Declines
// every other case, which that function handles its own way: a path that is not absolute, holds
// a "." or ".." component, or lies under /dev or /proc (a descriptor's name); one that exists
// as anything but a regular file (a link, a stream, a folder, a device); one lstat() cannot see
// for any reason but its absence. On kFailed the caller writes again its own way, which names
// the error.
FileWrite write_file_atomic(const char* path, const uint8_t* data, size_t size);

}  // namespace panoseg
