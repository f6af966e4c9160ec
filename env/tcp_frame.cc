#include "env/tcp_frame.h"

#include <zlib.h>

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace keel::env {
namespace {

void PutFixed32(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void PutFixed64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetFixed32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}
uint64_t GetFixed64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

// zlib's crc32 takes a uInt length; feed it in pieces so any size works.
uint32_t Crc32(uint32_t crc, const char* data, size_t size) {
  constexpr size_t kChunk = size_t{1} << 30;
  while (size > 0) {
    const size_t n = size < kChunk ? size : kChunk;
    crc = static_cast<uint32_t>(
        ::crc32(crc, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(n)));
    data += n;
    size -= n;
  }
  return crc;
}

}  // namespace

void AppendFrame(uint64_t from, std::string_view payload, std::string* out) {
  KEEL_CHECK(payload.size() <= std::numeric_limits<uint32_t>::max());
  const size_t start = out->size();
  out->resize(start + kFrameHeaderBytes);
  out->append(payload.data(), payload.size());
  char* header = out->data() + start;
  PutFixed32(static_cast<uint32_t>(payload.size()), header);
  PutFixed64(from, header + 8);
  const uint32_t crc = Crc32(Crc32(0, header + 8, 8), payload.data(), payload.size());
  PutFixed32(crc, header + 4);
}

size_t AppendBatch(uint64_t from, size_t max_batch_bytes, std::deque<std::string>* queue,
                   std::string* out) {
  size_t frames = 0;
  while (!queue->empty()) {
    const size_t frame_bytes = kFrameHeaderBytes + queue->front().size();
    if (frames > 0 && out->size() + frame_bytes > max_batch_bytes) break;
    AppendFrame(from, queue->front(), out);
    queue->pop_front();
    ++frames;
  }
  return frames;
}

void FrameDecoder::Feed(std::string_view bytes) {
  // Drop what was decoded before growing, so the buffer stays within one frame + chunk.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
}

absl::StatusOr<bool> FrameDecoder::Next(Frame* frame) {
  if (!error_.ok()) return error_;
  const size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderBytes) return false;
  const char* header = buffer_.data() + consumed_;
  const uint32_t size = GetFixed32(header);
  if (size > max_payload_bytes_) {
    error_ = absl::DataLossError(
        absl::StrCat("peer frame of ", size, " bytes exceeds the maximum of ",
                     max_payload_bytes_));
    return error_;
  }
  if (available < kFrameHeaderBytes + size) return false;
  const uint32_t expected_crc = GetFixed32(header + 4);
  const uint32_t actual_crc = Crc32(0, header + 8, 8 + size);
  if (expected_crc != actual_crc) {
    error_ = absl::DataLossError(absl::StrCat("peer frame CRC mismatch: stored ", expected_crc,
                                              ", computed ", actual_crc));
    return error_;
  }
  frame->from = GetFixed64(header + 8);
  frame->payload.assign(header + kFrameHeaderBytes, size);
  consumed_ += kFrameHeaderBytes + size;
  return true;
}

}  // namespace keel::env
