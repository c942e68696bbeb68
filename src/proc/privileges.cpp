#include "proc/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace wsbridge::proc {
namespace {

// A whole decimal number, as "65534"; false for names.
bool parse_id(const std::string& text, unsigned long& id) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  id = std::strtoul(text.c_str(), nullptr, 10);
  return errno == 0;
}

std::string errno_text(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

}  // namespace

bool drop_privileges(const std::string& user, const std::string& group, std::string& error) {
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  std::string user_name;
  if (!user.empty()) {
    unsigned long id = 0;
    const passwd* pw = parse_id(user, id) ? ::getpwuid(static_cast<uid_t>(id)) : ::getpwnam(user.c_str());
    if (pw != nullptr) {
      uid = pw->pw_uid;
      gid = pw->pw_gid;
      user_name = pw->pw_name;
    } else if (parse_id(user, id)) {
      uid = static_cast<uid_t>(id);  // a uid with no passwd entry: no groups of its own
    } else {
      error = "unknown user '" + user + "'";
      return false;
    }
  }
  if (!group.empty()) {
    unsigned long id = 0;
    const struct group* gr = parse_id(group, id) ? ::getgrgid(static_cast<gid_t>(id)) : ::getgrnam(group.c_str());
    if (gr != nullptr) {
      gid = gr->gr_gid;
    } else if (parse_id(group, id)) {
      gid = static_cast<gid_t>(id);
    } else {
      error = "unknown group '" + group + "'";
      return false;
    }
  }

  // Groups first: once the uid is gone, changing them is no longer allowed.
  // Root's supplementary groups must not survive the switch.
  if (!user_name.empty() && group.empty()) {
    if (::initgroups(user_name.c_str(), gid) != 0) {
      error = errno_text("initgroups");
      return false;
    }
  } else if (::setgroups(1, &gid) != 0) {
    error = errno_text("setgroups");
    return false;
  }
  if (::setresgid(gid, gid, gid) != 0) {
    error = errno_text("setgid");
    return false;
  }
  if (!user.empty() && ::setresuid(uid, uid, uid) != 0) {
    error = errno_text("setuid");
    return false;
  }
  // If the switch left any way back to root, fail rather than run on as root.
  if (uid != 0 && (::setuid(0) == 0 || ::geteuid() == 0)) {
    error = "root privileges could be regained after switching user";
    return false;
  }
  return true;
}

}  // namespace wsbridge::proc
