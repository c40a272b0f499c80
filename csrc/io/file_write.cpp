#include "io/file_write.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace panoseg {

#if defined(__linux__)
namespace {

// Whether `path` is one this writer takes: absolute, no "." or ".." component, not under /dev
// or /proc.
bool plain_absolute(const char* path) {
  if (path == nullptr || path[0] != '/') return false;
  if (std::strncmp(path, "/dev/", 5) == 0 || std::strncmp(path, "/proc/", 6) == 0) return false;
  for (const char* p = path; *p != '\0'; ++p) {
    if (*p != '/') continue;
    const char* c = p + 1;  // a component's first byte
    if (c[0] == '.' && (c[1] == '/' || c[1] == '\0' ||
                        (c[1] == '.' && (c[2] == '/' || c[2] == '\0'))))
      return false;
  }
  const size_t n = std::strlen(path);
  return path[n - 1] != '/';
}

bool write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t k = ::write(fd, data, size);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    data += k;
    size -= size_t(k);
  }
  return true;
}

}  // namespace

FileWrite write_file_atomic(const char* path, const uint8_t* data, size_t size) {
  if (!plain_absolute(path) || (data == nullptr && size > 0)) return FileWrite::kDeclined;
  struct stat st;
  if (::lstat(path, &st) == 0) {
    if (!S_ISREG(st.st_mode)) return FileWrite::kDeclined;
  } else if (errno != ENOENT) {
    return FileWrite::kDeclined;
  }
  std::string tmp;
  try {
    const char* slash = std::strrchr(path, '/');  // not null: the path is absolute
    tmp.assign(path, size_t(slash + 1 - path));
    tmp += ".tmp-";
    tmp += slash + 1;
    tmp += '.';
    tmp += std::to_string(long(::getpid()));
    tmp += "-c";
    tmp += std::to_string(long(::syscall(SYS_gettid)));
  } catch (...) {  // out of memory: the caller's writer tries
    return FileWrite::kFailed;
  }
  // A new file, never opened through what is there: a leftover, or a link or FIFO planted at
  // the predictable name, is removed and the file created again (once).
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  int fd = ::open(tmp.c_str(), flags, 0666);
  if (fd < 0 && errno == EEXIST && ::unlink(tmp.c_str()) == 0)
    fd = ::open(tmp.c_str(), flags, 0666);
  if (fd < 0) return FileWrite::kFailed;
  bool ok = write_all(fd, data, size);
  ok = (::close(fd) == 0) && ok;
  if (ok && ::rename(tmp.c_str(), path) == 0) return FileWrite::kWritten;
  ::unlink(tmp.c_str());
  return FileWrite::kFailed;
}

#else  // elsewhere the caller's writer does it all

FileWrite write_file_atomic(const char*, const uint8_t*, size_t) { return FileWrite::kDeclined; }

#endif

}  // namespace panoseg
