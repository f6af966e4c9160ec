#include "client/keelctl/go_json.h"

#include <cstdio>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"

namespace keel::client::keelctl {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string Base64(std::string_view bytes) {
  return absl::Base64Escape(absl::string_view(bytes.data(), bytes.size()));
}

std::string GoCamel(std::string_view proto_name) {
  std::string out;
  bool upper = true;
  for (char c : proto_name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

namespace {

std::string ScalarJson(const Message& m, const Reflection* r, const FieldDescriptor* f, int index) {
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return absl::StrCat(rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f));
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      return f->type() == FieldDescriptor::TYPE_BYTES ? GoQuote(Base64(v)) : GoQuote(v);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return GoJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
    default:
      return "null";
  }
}

// Go's omitempty: zero scalars and empty strings/bytes/slices are dropped; message pointers
// are dropped only when nil.
bool Present(const Message& m, const Reflection* r, const FieldDescriptor* f) {
  if (f->is_repeated()) return r->FieldSize(m, f) > 0;
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return r->HasField(m, f);
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return r->GetInt32(m, f) != 0;
    case FieldDescriptor::CPPTYPE_INT64: return r->GetInt64(m, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT32: return r->GetUInt32(m, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT64: return r->GetUInt64(m, f) != 0;
    case FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM: return r->GetEnumValue(m, f) != 0;
    case FieldDescriptor::CPPTYPE_STRING: return !r->GetString(m, f).empty();
    default: return false;
  }
}

std::string FieldValue(const Message& m, const Reflection* r, const FieldDescriptor* f) {
  if (!f->is_repeated()) return ScalarJson(m, r, f, 0);
  std::vector<std::string> items;
  for (int i = 0; i < r->FieldSize(m, f); ++i) items.push_back(ScalarJson(m, r, f, i));
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

}  // namespace

std::string GoJsonFields(const Message& message) {
  const auto* d = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  std::vector<std::string> members;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const auto* oneof = f->real_containing_oneof();
    if (oneof != nullptr) {
      // The Go struct has one interface field per oneof, where its first member sits.
      if (oneof->field(0) != f) continue;
      const FieldDescriptor* set = r->GetOneofFieldDescriptor(message, oneof);
      std::string value = set == nullptr
                              ? "null"
                              : absl::StrCat("{", GoQuote(GoCamel(set->name())), ":",
                                             FieldValue(message, r, set), "}");
      members.push_back(absl::StrCat(GoQuote(GoCamel(oneof->name())), ":", value));
      continue;
    }
    if (!Present(message, r, f)) continue;
    members.push_back(absl::StrCat(GoQuote(f->name()), ":", FieldValue(message, r, f)));
  }
  return absl::StrJoin(members, ",");
}

std::string GoJson(const Message& message) {
  return absl::StrCat("{", GoJsonFields(message), "}");
}

}  // namespace keel::client::keelctl
