// Incremental UTF-8 validation with a small deterministic automaton: every
// byte is first mapped to one of 13 classes, then (state, class) gives the
// next state. The classes are chosen so that the second byte of the lead
// bytes with restricted ranges (E0, ED, F0, F4) gets its own state, which is
// how overlong forms, surrogates and code points above U+10FFFF are refused
// at the first byte that proves them (RFC 3629 §4's table, restated).
#include "wsbridge/ws/utf8_validator.h"

#include <array>
#include <cstring>

namespace wsbridge::ws {
namespace {

enum ByteClass : std::uint8_t {
  kAscii = 0,        // 00-7F
  kCont80 = 1,       // 80-8F
  kCont90 = 2,       // 90-9F
  kContA0 = 3,       // A0-BF
  kOverlong2 = 4,    // C0-C1: would only encode U+0000-U+007F
  kLead2 = 5,        // C2-DF
  kLeadE0 = 6,       // E0: second byte A0-BF, else overlong
  kLead3 = 7,        // E1-EC, EE-EF
  kLeadED = 8,       // ED: second byte 80-9F, else a surrogate
  kLeadF0 = 9,       // F0: second byte 90-BF, else overlong
  kLead4 = 10,       // F1-F3
  kLeadF4 = 11,      // F4: second byte 80-8F, else above U+10FFFF
  kInvalid = 12,     // F5-FF: never appear in UTF-8
};
constexpr std::size_t kClassCount = 13;

enum State : std::uint8_t {
  kAccept = 0,      // between code points
  kReject = 1,      // sticky failure
  kNeed1 = 2,       // one continuation byte (80-BF) left
  kNeed2 = 3,       // two continuation bytes left
  kAfterE0 = 4,     // needs A0-BF, then one more
  kAfterED = 5,     // needs 80-9F, then one more
  kNeed3 = 6,       // three continuation bytes left
  kAfterF0 = 7,     // needs 90-BF, then two more
  kAfterF4 = 8,     // needs 80-8F, then two more
};
constexpr std::size_t kStateCount = 9;

constexpr std::array<std::uint8_t, 256> make_byte_classes() {
  std::array<std::uint8_t, 256> classes{};
  for (int b = 0; b < 256; ++b) {
    std::uint8_t c = kInvalid;
    if (b <= 0x7F) c = kAscii;
    else if (b <= 0x8F) c = kCont80;
    else if (b <= 0x9F) c = kCont90;
    else if (b <= 0xBF) c = kContA0;
    else if (b <= 0xC1) c = kOverlong2;
    else if (b <= 0xDF) c = kLead2;
    else if (b == 0xE0) c = kLeadE0;
    else if (b == 0xED) c = kLeadED;
    else if (b <= 0xEF) c = kLead3;
    else if (b == 0xF0) c = kLeadF0;
    else if (b <= 0xF3) c = kLead4;
    else if (b == 0xF4) c = kLeadF4;
    classes[static_cast<std::size_t>(b)] = c;
  }
  return classes;
}

constexpr std::array<std::uint8_t, kStateCount * kClassCount> make_transitions() {
  std::array<std::uint8_t, kStateCount * kClassCount> t{};
  for (auto& next : t) next = kReject;  // anything not listed below is an error
  auto set = [&t](State from, ByteClass cls, State to) {
    t[static_cast<std::size_t>(from) * kClassCount + cls] = to;
  };
  set(kAccept, kAscii, kAccept);
  set(kAccept, kLead2, kNeed1);
  set(kAccept, kLeadE0, kAfterE0);
  set(kAccept, kLead3, kNeed2);
  set(kAccept, kLeadED, kAfterED);
  set(kAccept, kLeadF0, kAfterF0);
  set(kAccept, kLead4, kNeed3);
  set(kAccept, kLeadF4, kAfterF4);
  for (ByteClass cont : {kCont80, kCont90, kContA0}) {
    set(kNeed1, cont, kAccept);
    set(kNeed2, cont, kNeed1);
    set(kNeed3, cont, kNeed2);
  }
  set(kAfterE0, kContA0, kNeed1);
  set(kAfterED, kCont80, kNeed1);
  set(kAfterED, kCont90, kNeed1);
  set(kAfterF0, kCont90, kNeed2);
  set(kAfterF0, kContA0, kNeed2);
  set(kAfterF4, kCont80, kNeed2);
  return t;
}

constexpr std::array<std::uint8_t, 256> kByteClass = make_byte_classes();
constexpr std::array<std::uint8_t, kStateCount * kClassCount> kTransition = make_transitions();

// True when all eight bytes at p are ASCII. memcpy keeps the load legal at
// any alignment; compilers turn it into one unaligned 64-bit load.
inline bool eight_bytes_ascii(const std::uint8_t* p) noexcept {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return (word & 0x8080808080808080ULL) == 0;
}

}  // namespace

bool Utf8Validator::feed(const std::uint8_t* data, std::size_t size) noexcept {
  std::uint32_t state = state_;
  std::size_t i = 0;
  while (i < size) {
    if (state == kReject) break;
    // Text traffic is mostly ASCII; skipping it a word at a time is where
    // the speed comes from. Only valid between code points.
    if (state == kAccept) {
      while (i + 8 <= size && eight_bytes_ascii(data + i)) i += 8;
      if (i == size) break;
    }
    state = kTransition[state * kClassCount + kByteClass[data[i]]];
    ++i;
  }
  state_ = state;
  return state != kReject;
}

bool Utf8Validator::finish() const noexcept { return state_ == kAccept; }

void Utf8Validator::reset() noexcept { state_ = kAccept; }

bool is_valid_utf8(const std::uint8_t* data, std::size_t size) noexcept {
  Utf8Validator validator;
  return validator.feed(data, size) && validator.finish();
}

}  // namespace wsbridge::ws
