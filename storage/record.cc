#include "storage/record.h"

#include <zlib.h>

#include "absl/strings/str_format.h"
#include "base/check.h"
#include "storage/coding.h"

namespace keel::storage {
namespace {

uint32_t Crc(uint32_t seed, std::string_view bytes) {
  // zlib's crc32 takes a uInt length; our inputs are bounded by kMaxRecordPayloadBytes
  // and kRecordHeaderBytes, far below 4 GiB.
  KEEL_CHECK(bytes.size() <= UINT32_MAX);
  return static_cast<uint32_t>(
      crc32(seed, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

uint64_t PaddingBytes(uint64_t payload_bytes) {
  return (kRecordAlignmentBytes - (kRecordHeaderBytes + payload_bytes) % kRecordAlignmentBytes) %
         kRecordAlignmentBytes;
}

bool AllZero(std::string_view bytes) {
  for (char c : bytes) {
    if (c != 0) return false;
  }
  return true;
}

}  // namespace

uint32_t ChainCrc(uint32_t prev_data_crc, RecordType type, std::string_view payload) {
  const char type_byte = static_cast<char>(type);
  return Crc(Crc(prev_data_crc, std::string_view(&type_byte, 1)), payload);
}

uint64_t FramedRecordBytes(uint64_t payload_bytes) {
  return kRecordHeaderBytes + payload_bytes + PaddingBytes(payload_bytes);
}

uint32_t AppendRecord(RecordType type, std::string_view payload, uint32_t prev_data_crc,
                      std::string* out) {
  KEEL_CHECK(payload.size() <= kMaxRecordPayloadBytes);
  const size_t start = out->size();
  const uint32_t data_crc = ChainCrc(prev_data_crc, type, payload);
  const uint64_t pad = PaddingBytes(payload.size());
  PutFixed32(out, data_crc);
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  out->push_back(static_cast<char>(type));
  out->push_back(static_cast<char>(pad));
  out->append(2, '\0');
  PutFixed32(out, Crc(0, std::string_view(out->data() + start, 12)));
  out->append(payload.data(), payload.size());
  out->append(pad, '\0');
  KEEL_CHECK(out->size() - start == FramedRecordBytes(payload.size()));
  return data_crc;
}

DecodedRecord DecodeRecord(std::string_view data, uint64_t offset) {
  KEEL_CHECK(offset <= data.size());
  KEEL_CHECK(offset % kRecordAlignmentBytes == 0);
  DecodedRecord r;
  const std::string_view rest = data.substr(offset);
  if (rest.empty()) {
    r.outcome = DecodedRecord::Outcome::kEnd;
    return r;
  }
  // An all-zero tail is a torn write only while it could still be the start of a record
  // header: the type byte (offset 8) is never zero. A longer one is no prefix of anything
  // the writer wrote: an fsync'd write that never landed (a misdirected or lost write), so
  // the member would forget a vote or entries it acknowledged. Refused, never truncated.
  if (AllZero(rest)) {
    if (rest.size() <= kRecordTypeOffset) {
      r.outcome = DecodedRecord::Outcome::kTorn;
      r.reason = absl::StrFormat("%d zero bytes at end of data", rest.size());
    } else {
      r.outcome = DecodedRecord::Outcome::kCorrupt;
      r.reason = absl::StrFormat(
          "%d zero bytes at end of data where a record should be (an acknowledged write that "
          "did not land)", rest.size());
    }
    return r;
  }
  if (rest.size() < kRecordHeaderBytes) {
    r.outcome = DecodedRecord::Outcome::kTorn;
    r.reason =
        absl::StrFormat("partial record header (%d of %d bytes)", rest.size(), kRecordHeaderBytes);
    return r;
  }
  const char* h = rest.data();
  if (Crc(0, std::string_view(h, 12)) != GetFixed32(h + 12)) {
    r.outcome = DecodedRecord::Outcome::kCorrupt;
    r.reason = "record header checksum mismatch";
    return r;
  }
  const uint32_t length = GetFixed32(h + 4);
  const uint8_t type = static_cast<uint8_t>(h[kRecordTypeOffset]);
  const uint8_t pad = static_cast<uint8_t>(h[9]);
  if (type == 0 || type > kMaxRecordType) {
    r.outcome = DecodedRecord::Outcome::kCorrupt;
    r.reason = absl::StrFormat("unknown record type %d", type);
    return r;
  }
  if (length > kMaxRecordPayloadBytes || pad != PaddingBytes(length) || h[10] != 0 || h[11] != 0) {
    r.outcome = DecodedRecord::Outcome::kCorrupt;
    r.reason = absl::StrFormat("invalid record length %d / padding %d", length, pad);
    return r;
  }
  const uint64_t framed = FramedRecordBytes(length);
  if (framed > rest.size()) {
    r.outcome = DecodedRecord::Outcome::kTorn;
    r.reason = absl::StrFormat("record of %d bytes cut short at %d bytes", framed, rest.size());
    return r;
  }
  const std::string_view payload = rest.substr(kRecordHeaderBytes, length);
  if (!AllZero(rest.substr(kRecordHeaderBytes + length, pad))) {
    r.outcome = DecodedRecord::Outcome::kCorrupt;
    r.reason = "non-zero record padding";
    return r;
  }
  r.data_crc = GetFixed32(h);
  r.outcome = DecodedRecord::Outcome::kRecord;
  r.type = static_cast<RecordType>(type);
  r.payload = payload;
  r.next_offset = offset + framed;
  return r;
}

}  // namespace keel::storage
