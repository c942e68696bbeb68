// The owner of a part that holds libuv handles: the part counts its own
// open handles and reports once, from its last close callback, that its
// memory may go (docs/architecture.md, "Teardown").
#pragma once

namespace wsbridge::net {

class PartOwner {
 public:
  // Every handle of the part is closed: it may be destroyed now. Once.
  virtual void on_part_closed() noexcept = 0;

 protected:
  ~PartOwner() = default;
};

}  // namespace wsbridge::net
