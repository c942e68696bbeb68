// Close-code mapping and wire-validity of close codes (RFC 6455 §7.4).
#include <catch2/catch.hpp>

#include <cstring>
#include <set>
#include <string>

#include "wsbridge/ws/error.h"

using namespace wsbridge::ws;

namespace {

const ProtocolError kAllErrors[] = {
    ProtocolError::UnmaskedClientFrame,    ProtocolError::ReservedBitsSet,
    ProtocolError::UnknownOpcode,          ProtocolError::FragmentedControlFrame,
    ProtocolError::ControlFrameTooLong,    ProtocolError::LengthTooLarge,
    ProtocolError::UnexpectedContinuation, ProtocolError::ExpectedContinuation,
    ProtocolError::ClosePayloadTooShort,   ProtocolError::InvalidCloseCode,
    ProtocolError::InvalidCloseReasonUtf8, ProtocolError::InvalidTextUtf8,
    ProtocolError::MessageTooBig,          ProtocolError::InvalidCompressedData,
    ProtocolError::OutOfMemory,
};

}  // namespace

TEST_CASE("close_code_for: 1009 too big, 1007 bad UTF-8, 1011 out of memory, 1002 otherwise", "[ws_error_test]") {
  for (ProtocolError e : kAllErrors) {
    INFO(describe(e));
    std::uint16_t expected = close_code::kProtocolError;
    if (e == ProtocolError::MessageTooBig) expected = close_code::kMessageTooBig;
    if (e == ProtocolError::OutOfMemory) expected = close_code::kInternalError;
    if (e == ProtocolError::InvalidTextUtf8 || e == ProtocolError::InvalidCloseReasonUtf8 ||
        e == ProtocolError::InvalidCompressedData) {
      expected = close_code::kInvalidPayload;
    }
    CHECK(close_code_for(e) == expected);
  }
  CHECK(close_code_for(ProtocolError::MessageTooBig) == 1009);
  CHECK(close_code_for(ProtocolError::InvalidTextUtf8) == 1007);
  CHECK(close_code_for(ProtocolError::InvalidCloseReasonUtf8) == 1007);
  CHECK(close_code_for(ProtocolError::InvalidCompressedData) == 1007);
  CHECK(close_code_for(ProtocolError::OutOfMemory) == 1011);
  CHECK(close_code_for(ProtocolError::UnmaskedClientFrame) == 1002);
  CHECK(close_code_for(ProtocolError::InvalidCloseCode) == 1002);
}

TEST_CASE("close_code_for codes are themselves sendable", "[ws_error_test]") {
  for (ProtocolError e : kAllErrors) CHECK(is_valid_close_code_on_wire(close_code_for(e)));
}

TEST_CASE("describe gives a distinct non-empty text for every error", "[ws_error_test]") {
  std::set<std::string> seen;
  for (ProtocolError e : kAllErrors) {
    const char* text = describe(e);
    REQUIRE(text != nullptr);
    CHECK(std::strlen(text) > 0);
    CHECK(seen.insert(text).second);
  }
  CHECK(std::string(describe(ProtocolError::UnmaskedClientFrame)) == "unmasked client frame");
  CHECK(describe(ProtocolError::None) != nullptr);
  CHECK(describe(static_cast<ProtocolError>(200)) != nullptr);
}

TEST_CASE("is_valid_close_code_on_wire follows RFC 6455 §7.4 and the IANA registry", "[ws_error_test]") {
  struct Case {
    std::uint16_t code;
    bool valid;
  };
  const Case cases[] = {
      {0, false},     {999, false},   {1000, true},   {1001, true},   {1002, true},
      {1003, true},   {1004, false},  {1005, false},  {1006, false},  {1007, true},
      {1008, true},   {1009, true},   {1010, true},   {1011, true},   {1012, true},
      {1013, true},   {1014, true},   {1015, false},  {1016, false},  {1100, false},
      {2000, false},  {2999, false},  {3000, true},   {3999, true},   {4000, true},
      {4999, true},   {5000, false},  {65535, false},
  };
  for (const Case& c : cases) {
    INFO("code " << c.code);
    CHECK(is_valid_close_code_on_wire(c.code) == c.valid);
  }
}

TEST_CASE("close code constants match RFC 6455 §7.4.1", "[ws_error_test]") {
  CHECK(close_code::kNormal == 1000);
  CHECK(close_code::kGoingAway == 1001);
  CHECK(close_code::kProtocolError == 1002);
  CHECK(close_code::kNoStatus == 1005);
  CHECK(close_code::kAbnormal == 1006);
  CHECK(close_code::kInvalidPayload == 1007);
  CHECK(close_code::kMessageTooBig == 1009);
  CHECK(close_code::kInternalError == 1011);
  CHECK_FALSE(is_valid_close_code_on_wire(close_code::kNoStatus));
  CHECK_FALSE(is_valid_close_code_on_wire(close_code::kAbnormal));
}
