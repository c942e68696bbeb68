#include "net/pending_bytes.h"

#include <utility>

#include "net/uv_cast.h"

namespace wsbridge::net {
namespace {
// A segment list longer than this after a burst is freed once empty.
constexpr std::size_t kKeepSegments = 64;
}  // namespace

void PendingBytes::append_owned(const char* data, std::size_t size) {
  if (size == 0) return;
  const std::size_t begin = owned_.size();
  if (!segments_.empty() && segments_.back().shared) {
    // After a shared block: a segment of its own, made before the bytes
    // are, so that a failure leaves no segment without bytes.
    segments_.push_back(Segment{SharedBytes(), begin, begin});
  }
  owned_.append(data, size);
  if (!segments_.empty()) segments_.back().end = owned_.size();
  size_ += size;
}

void PendingBytes::append_shared(const SharedBytes& block, std::size_t offset, std::size_t size) {
  if (size == 0) return;
  if (segments_.empty()) {
    // The first shared block: what was owned so far becomes a segment.
    segments_.reserve(4);
    if (!owned_.empty()) segments_.push_back(Segment{SharedBytes(), 0, owned_.size()});
  }
  segments_.push_back(Segment{block, offset, offset + size});
  size_ += size;
}

void PendingBytes::fill_bufs(std::vector<uv_buf_t>& bufs) const {
  bufs.clear();
  if (segments_.empty()) {
    if (!owned_.empty()) bufs.push_back(make_buf(owned_.data(), owned_.size()));
    return;
  }
  bufs.reserve(segments_.size());
  for (const Segment& segment : segments_) {
    const char* base = segment.shared ? segment.shared.view().data() : owned_.data();
    bufs.push_back(make_buf(base + segment.begin, segment.end - segment.begin));
  }
}

void PendingBytes::drop_front(std::size_t size) noexcept {
  if (size >= size_) {
    clear(owned_.capacity());
    return;
  }
  size_ -= size;
  if (segments_.empty()) {
    owned_.erase(0, size);
    return;
  }
  // Owned bytes stay where they are (later segments point into owned_);
  // they go with the next clear().
  std::size_t sent = 0;
  while (size >= segments_[sent].end - segments_[sent].begin) {
    size -= segments_[sent].end - segments_[sent].begin;
    ++sent;
  }
  segments_[sent].begin += size;
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(sent));
}

void PendingBytes::clear(std::size_t keep) noexcept {
  owned_.clear();
  if (owned_.capacity() > keep) std::string().swap(owned_);
  segments_.clear();  // lets go of the shared blocks
  if (segments_.capacity() > kKeepSegments) std::vector<Segment>().swap(segments_);
  size_ = 0;
}

void PendingBytes::swap(PendingBytes& other) noexcept {
  owned_.swap(other.owned_);
  segments_.swap(other.segments_);
  std::swap(size_, other.size_);
}

}  // namespace wsbridge::net
