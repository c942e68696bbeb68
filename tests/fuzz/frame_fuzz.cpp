// Fuzzes the client-frame decoder and the message reader on top of it.
// Invariants: neither crashes or over-reads; `consumed` never exceeds the
// input; the events do not depend on how the bytes were split into reads
// (the same input fed whole and in chunks gives the same frames, payload
// bytes, messages and error); text messages and close reasons are valid
// UTF-8; no message exceeds the size limit; after an error, only the same
// error comes back. One input bit agrees permessage-deflate, so RSV1
// messages are inflated (and bombs must stop at the limit).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "wsbridge/ws/error.h"
#include "wsbridge/ws/frame_decoder.h"
#include "wsbridge/ws/message_reader.h"
#include "wsbridge/ws/utf8_validator.h"

using wsbridge::fuzz::FuzzInput;
namespace ws = wsbridge::ws;

namespace {

// One decoder event, flattened so runs can be compared. Payload events are
// merged per frame, because their boundaries legitimately follow the reads.
struct Record {
  int kind;
  std::uint64_t a = 0;
  std::string bytes;
  bool operator==(const Record& o) const { return kind == o.kind && a == o.a && bytes == o.bytes; }
  bool operator!=(const Record& o) const { return !(*this == o); }
};

std::vector<Record> run_decoder(std::string input, const std::vector<std::size_t>& ends, bool require_mask,
                               bool deflate) {
  ws::FrameDecoder decoder(require_mask);
  if (deflate) decoder.allow_compressed_messages();
  std::vector<Record> out;
  std::size_t begin = 0;
  for (const std::size_t end : ends) {
    auto* data = reinterpret_cast<std::uint8_t*>(input.data()) + begin;
    std::size_t size = end - begin;
    // Bounded: every event consumes input or moves the state machine on
    // (FrameEnd), so 4 events per byte plus slack is plenty.
    const std::size_t max_events = 4 * size + 8;
    for (std::size_t guard = 0; guard < max_events; ++guard) {
      std::size_t consumed = 0;
      const ws::FrameDecoder::Event ev = decoder.next(data, size, consumed);
      FUZZ_CHECK(consumed <= size);
      if (ev.kind == ws::FrameDecoder::EventKind::NeedMore) {
        FUZZ_CHECK(consumed == size);
        break;
      }
      if (ev.kind == ws::FrameDecoder::EventKind::Error) {
        out.push_back({4, static_cast<std::uint64_t>(ev.error), {}});
        // A failed decoder keeps answering with the same error.
        std::size_t again = 0;
        const ws::FrameDecoder::Event repeat = decoder.next(data, size, again);
        FUZZ_CHECK(repeat.kind == ws::FrameDecoder::EventKind::Error && repeat.error == ev.error && again == 0);
        return out;
      }
      if (ev.kind == ws::FrameDecoder::EventKind::FrameStart) {
        const std::uint64_t header = (static_cast<std::uint64_t>(ev.header.opcode) << 2) |
                                     (ev.header.fin ? 2u : 0u) | (ev.header.masked ? 1u : 0u) |
                                     (ev.header.compressed ? 0x100u : 0u);
        if (ev.header.compressed) {
          FUZZ_CHECK(deflate && (ev.header.opcode == ws::Opcode::Text || ev.header.opcode == ws::Opcode::Binary));
        }
        out.push_back({1, header, std::to_string(ev.header.payload_length)});
        if (ws::is_control(ev.header.opcode)) FUZZ_CHECK(ev.header.payload_length <= ws::kMaxControlPayload);
        if (require_mask) FUZZ_CHECK(ev.header.masked);
        FUZZ_CHECK(ev.header.payload_length < (std::uint64_t{1} << 63));
      } else if (ev.kind == ws::FrameDecoder::EventKind::Payload) {
        FUZZ_CHECK(ev.data == data && ev.size == consumed && ev.size > 0);
        if (out.empty() || out.back().kind != 2) out.push_back({2, 0, {}});
        out.back().bytes.append(reinterpret_cast<const char*>(ev.data), ev.size);
      } else {
        out.push_back({3, 0, {}});
      }
      data += consumed;
      size -= consumed;
    }
    begin = end;
  }
  return out;
}

std::vector<Record> run_reader(std::string input, const std::vector<std::size_t>& ends, std::uint64_t max_message,
                              bool deflate) {
  ws::MessageReader reader(max_message);
  if (deflate) reader.inflate_compressed_messages(ws::DeflateParameters{});
  std::vector<Record> out;
  std::size_t begin = 0;
  for (const std::size_t end : ends) {
    auto* data = reinterpret_cast<std::uint8_t*>(input.data()) + begin;
    std::size_t size = end - begin;
    const std::size_t max_events = 4 * size + 8;
    for (std::size_t guard = 0; guard < max_events; ++guard) {
      std::size_t consumed = 0;
      const ws::MessageReader::Event ev = reader.next(data, size, consumed);
      FUZZ_CHECK(consumed <= size);
      data += consumed;
      size -= consumed;
      const auto* payload = reinterpret_cast<const std::uint8_t*>(ev.payload.data());
      switch (ev.kind) {
        case ws::MessageReader::EventKind::NeedMore:
          FUZZ_CHECK(size == 0);
          break;
        case ws::MessageReader::EventKind::Message:
          if (max_message != 0) FUZZ_CHECK(ev.payload.size() <= max_message);
          if (!ev.binary) FUZZ_CHECK(ws::is_valid_utf8(payload, ev.payload.size()));
          out.push_back({ev.binary ? 11 : 10, 0, std::string(ev.payload)});
          break;
        case ws::MessageReader::EventKind::Ping:
        case ws::MessageReader::EventKind::Pong:
          FUZZ_CHECK(ev.payload.size() <= ws::kMaxControlPayload);
          out.push_back({static_cast<int>(ev.kind), 0, std::string(ev.payload)});
          break;
        case ws::MessageReader::EventKind::Close:
          FUZZ_CHECK(ev.payload.size() <= ws::kMaxControlPayload - 2);
          FUZZ_CHECK(ws::is_valid_utf8(payload, ev.payload.size()));
          FUZZ_CHECK(ev.close_code == ws::close_code::kNoStatus || ws::is_valid_close_code_on_wire(ev.close_code));
          out.push_back({static_cast<int>(ev.kind), ev.close_code, std::string(ev.payload)});
          break;
        case ws::MessageReader::EventKind::Error: {
          const std::uint16_t code = ws::close_code_for(ev.error);
          FUZZ_CHECK(code == 1002 || code == 1007 || code == 1009 || (deflate && code == 1011));
          FUZZ_CHECK(ws::describe(ev.error) != nullptr);
          out.push_back({20, static_cast<std::uint64_t>(ev.error), {}});
          std::size_t again = 0;
          const ws::MessageReader::Event repeat = reader.next(data, size, again);
          FUZZ_CHECK(repeat.kind == ws::MessageReader::EventKind::Error && repeat.error == ev.error && again == 0);
          return out;
        }
      }
      if (ev.kind == ws::MessageReader::EventKind::NeedMore) break;
    }
    begin = end;
  }
  // Memory bound after the stream: a large reassembly buffer is released
  // by the next call once no message is open.
  std::size_t unused = 0;
  (void)reader.next(nullptr, 0, unused);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [limit_choice, chunking, stream] = FuzzInput(data, size).take_limit_chunking_data();
  static constexpr std::uint64_t kLimits[] = {0, 1, 125, 126, 1000, 65536};
  const std::uint64_t max_message = kLimits[limit_choice % 6];
  const bool require_mask = (limit_choice & 0x80) == 0;
  const bool deflate = (limit_choice & 0x40) != 0;

  const std::vector<std::size_t> whole = {stream.size()};
  const std::vector<std::size_t> split = chunking.split_ends(stream.size());

  const std::vector<Record> frames_whole = run_decoder(stream, whole, require_mask, deflate);
  const std::vector<Record> frames_split = run_decoder(stream, split, require_mask, deflate);
  FUZZ_CHECK(frames_whole == frames_split);

  const std::vector<Record> messages_whole = run_reader(stream, whole, max_message, deflate);
  const std::vector<Record> messages_split = run_reader(stream, split, max_message, deflate);
  FUZZ_CHECK(messages_whole == messages_split);
  return 0;
}
