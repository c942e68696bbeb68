// HostNameLookups on a real loop: answers come back on the loop thread, each
// owner is told once, a cancelled lookup is never answered, and closing with
// lookups still running leaves nothing on the loop. Only 127.0.0.1 is looked
// up, which /etc/hosts (or the resolver) answers; the expected name is what
// getnameinfo itself gives here, so the test does not depend on the host.
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "io_test_support.h"
#include "net/host_name_lookups.h"

using io_test::TestLoop;
using wsbridge::net::HostNameLookups;

namespace {

sockaddr_storage loopback_address() {
  sockaddr_storage peer{};
  auto& in4 = reinterpret_cast<sockaddr_in&>(peer);
  in4.sin_family = AF_INET;
  in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return peer;
}

std::string name_from_getnameinfo(const sockaddr_storage& peer) {
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in), host, sizeof host, nullptr, 0,
                  NI_NAMEREQD) != 0) {
    return "";
  }
  return host;
}

struct CountingOwner final : HostNameLookups::Owner {
  int answers = 0;
  std::string name;
  void on_host_name_found(const std::string& found) noexcept override {
    ++answers;
    name = found;
  }
};

}  // namespace

TEST_CASE("a lookup's answer comes back on the loop, once, for every owner of the same address",
          "[net_host_name_lookups_test]") {
  TestLoop loop;
  HostNameLookups lookups;
  REQUIRE(lookups.open(loop.get()) == 0);
  const sockaddr_storage peer = loopback_address();
  std::vector<CountingOwner> owners(5);
  std::vector<std::shared_ptr<HostNameLookups::Lookup>> pending;
  for (auto& owner : owners) {
    pending.push_back(lookups.start(peer, owner));
    REQUIRE(pending.back() != nullptr);
  }
  REQUIRE(loop.run_until([&] {
    for (const auto& owner : owners) {
      if (owner.answers == 0) return false;
    }
    return true;
  }));
  loop.run_for(100);  // and nobody is told twice
  const std::string expected = name_from_getnameinfo(peer);
  for (const auto& owner : owners) {
    CHECK(owner.answers == 1);
    CHECK(owner.name == expected);
  }
  lookups.close();
  loop.close_and_check();
}

TEST_CASE("a cancelled lookup is never answered", "[net_host_name_lookups_test]") {
  TestLoop loop;
  HostNameLookups lookups;
  REQUIRE(lookups.open(loop.get()) == 0);
  const sockaddr_storage peer = loopback_address();
  CountingOwner cancelled_owner, kept_owner;
  auto cancelled = lookups.start(peer, cancelled_owner);
  auto kept = lookups.start(peer, kept_owner);
  REQUIRE(cancelled != nullptr);
  REQUIRE(kept != nullptr);
  HostNameLookups::cancel(*cancelled);
  // The kept one shares the cancelled one's resolver call, so by the time it
  // is answered the cancelled one's answer has come and been dropped.
  REQUIRE(loop.run_until([&] { return kept_owner.answers > 0; }));
  loop.run_for(100);
  CHECK(kept_owner.answers == 1);
  CHECK(cancelled_owner.answers == 0);
  lookups.close();
  loop.close_and_check();
}

TEST_CASE("closing with lookups still running leaves nothing on the loop and tells nobody",
          "[net_host_name_lookups_test]") {
  TestLoop loop;
  CountingOwner owner;
  {
    HostNameLookups lookups;
    REQUIRE(lookups.open(loop.get()) == 0);
    REQUIRE(lookups.start(loopback_address(), owner) != nullptr);
    lookups.close();  // the lookup's thread posts into a closed inbox, or has not finished
    loop.close_and_check();
  }
  CHECK(owner.answers == 0);
}
