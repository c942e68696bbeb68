// --user / --group: give up root after the listening sockets are bound, so
// the server, and every child it starts from then on, runs unprivileged.
#pragma once
#include <string>

namespace wsbridge::proc {

// Switches the process to `user` and `group` (names or numeric ids). An
// empty group means the user's primary group; an empty user keeps the uid
// and changes only the group. Supplementary groups become the user's own
// (initgroups), or none when only a group is given. Afterwards it checks
// that root cannot be regained. Returns false with `error` set on failure,
// in which case the caller must exit: running on as root is not an option.
[[nodiscard]] bool drop_privileges(const std::string& user, const std::string& group, std::string& error);

}  // namespace wsbridge::proc
