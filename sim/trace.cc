#include "sim/trace.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"

namespace keel::sim {
namespace {

// Separates variable-length pieces so that ("ab","c") and ("a","bc") hash differently.
constexpr unsigned char kSeparator = 0xff;

void WriteJsonString(std::ostream& out, std::string_view s) {
  out << '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out << "\\\""; break;
      case '\\': out << "\\\\"; break;
      case '\n': out << "\\n"; break;
      case '\t': out << "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out << buf;
        } else {
          out << static_cast<char>(c);
        }
    }
  }
  out << '"';
}

}  // namespace

StableHasher::StableHasher() : state_(XXH3_createState()) {
  if (state_ == nullptr) std::abort();  // out of memory for 576 bytes: nothing to recover
  XXH3_64bits_reset(state_);
}

StableHasher::~StableHasher() { XXH3_freeState(state_); }

void StableHasher::Flush() const {
  if (buffered_ == 0) return;
  XXH3_64bits_update(state_, buffer_, buffered_);
  buffered_ = 0;
}

void StableHasher::AddBytes(std::string_view bytes) {
  if (bytes.size() > kBufferBytes - buffered_) {
    Flush();
    if (bytes.size() > kBufferBytes) {
      XXH3_64bits_update(state_, bytes.data(), bytes.size());
      return;
    }
  }
  std::memcpy(buffer_ + buffered_, bytes.data(), bytes.size());
  buffered_ += bytes.size();
}

void StableHasher::AddU64(uint64_t v) {
  if (kBufferBytes - buffered_ < 8) Flush();
  // Little-endian bytes whatever the host's order: one copy on little-endian hosts.
  unsigned char* out = buffer_ + buffered_;
  if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
    std::memcpy(out, &v, sizeof(v));
  } else {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
  }
  buffered_ += 8;
}

void StableHasher::AddByte(unsigned char b) {
  if (buffered_ == kBufferBytes) Flush();
  buffer_[buffered_++] = b;
}

uint64_t StableHasher::Digest() const {
  Flush();
  return XXH3_64bits_digest(state_);
}

void Trace::Record(int64_t t_ns, uint64_t node, std::string_view kind,
                   std::initializer_list<TraceField> detail) {
  ++record_count_;
  if (!tally_prefix_.empty() && kind.size() >= tally_prefix_.size() &&
      kind.compare(0, tally_prefix_.size(), tally_prefix_) == 0) {
    auto it = tally_.find(kind);
    if (it == tally_.end()) it = tally_.emplace(std::string(kind), 0).first;
    ++it->second;
  }
  hasher_.AddU64(static_cast<uint64_t>(t_ns));
  hasher_.AddU64(node);
  hasher_.AddBytes(kind);
  hasher_.AddByte(kSeparator);
  for (const TraceField& f : detail) {
    hasher_.AddBytes(f.key);
    hasher_.AddU64(static_cast<uint64_t>(f.type));
    switch (f.type) {
      case TraceField::Type::kInt: hasher_.AddU64(static_cast<uint64_t>(f.int_value)); break;
      case TraceField::Type::kUint:
      case TraceField::Type::kBool: hasher_.AddU64(f.uint_value); break;
      case TraceField::Type::kString:
        hasher_.AddU64(f.string_value.size());
        hasher_.AddBytes(f.string_value);
        break;
    }
  }
  if (sink_ != nullptr) WriteJson(t_ns, node, kind, detail);
}

std::string Trace::HashHex() const { return absl::StrFormat("%016x", hash()); }

void Trace::WriteJson(int64_t t_ns, uint64_t node, std::string_view kind,
                      std::initializer_list<TraceField> detail) {
  std::ostream& out = *sink_;
  out << "{\"t_ns\":" << t_ns << ",\"node\":" << node << ",\"kind\":";
  WriteJsonString(out, kind);
  out << ",\"detail\":{";
  bool first = true;
  for (const TraceField& f : detail) {
    if (!first) out << ',';
    first = false;
    WriteJsonString(out, f.key);
    out << ':';
    switch (f.type) {
      case TraceField::Type::kInt: out << f.int_value; break;
      case TraceField::Type::kUint: out << f.uint_value; break;
      case TraceField::Type::kBool: out << (f.uint_value != 0 ? "true" : "false"); break;
      case TraceField::Type::kString: WriteJsonString(out, f.string_value); break;
    }
  }
  out << "}}\n";
}

}  // namespace keel::sim
