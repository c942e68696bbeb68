#include "metrics/process_stats_reader.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace wsbridge::metrics {
namespace {

// /proc/self/stat after the command name, which is in parentheses and may
// itself hold spaces and parentheses: the fields start after the last ')'.
bool read_stat_fields(std::string& fields) {
  std::ifstream file("/proc/self/stat");
  std::string line;
  if (!std::getline(file, line)) return false;
  std::size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  fields = line.substr(close + 1);
  return true;
}

// Seconds since the epoch at which the machine booted (/proc/stat btime).
bool read_boot_time(double& seconds) {
  std::ifstream file("/proc/stat");
  std::string key;
  while (file >> key) {
    if (key == "btime") return static_cast<bool>(file >> seconds);
    file.ignore(1 << 20, '\n');
  }
  return false;
}

std::uint64_t count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  std::uint64_t count = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  // The directory's own descriptor was counted; it is the scrape's, not the server's.
  return count > 0 ? count - 1 : 0;
}

}  // namespace

ProcessStats read_process_stats() noexcept {
  ProcessStats stats;
  try {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const long page_size = ::sysconf(_SC_PAGESIZE);
    std::string fields;
    if (ticks > 0 && read_stat_fields(fields)) {
      // Fields 3 onwards of proc(5): state is field 3, utime 14, stime 15,
      // starttime 22, rss 24.
      std::istringstream in(fields);
      std::string field;
      double utime = 0, stime = 0, starttime = 0;
      std::uint64_t rss_pages = 0;
      for (int number = 3; number <= 24 && in >> field; ++number) {
        if (number == 14) utime = std::stod(field);
        if (number == 15) stime = std::stod(field);
        if (number == 22) starttime = std::stod(field);
        if (number == 24) rss_pages = std::stoull(field);
      }
      if (in) {
        stats.cpu_seconds = (utime + stime) / ticks;
        if (page_size > 0) stats.resident_memory_bytes = rss_pages * static_cast<std::uint64_t>(page_size);
        double boot = 0;
        if (read_boot_time(boot)) stats.start_time_seconds = boot + starttime / ticks;
      }
    }
    stats.open_fds = count_open_fds();
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      stats.max_fds = static_cast<std::uint64_t>(limit.rlim_cur);
    }
  } catch (const std::exception&) {
    // An unexpected /proc line or no memory: report what was read so far.
  }
  return stats;
}

}  // namespace wsbridge::metrics
