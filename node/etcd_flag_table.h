// Every etcd 3.4 flag keeld does not serve itself, and what keeld does with it, so that an
// etcd manifest never fails with "flag provided but not defined":
//   kWarn    accepted and ignored with one warning line (Go-runtime, bbolt or logging
//            specifics, or tuning whose Keel equivalent is fixed);
//   kRefuse  refused when set to anything but etcd's default, with a message naming the
//            flag and why (Keel lacks the feature; the default is harmless).
// The flags keeld implements are in keeld_flags.cc (TLS included); the TLS flags it does
// not serve (CRLs, CN/hostname restrictions) are a separate list.
#ifndef KEEL_NODE_ETCD_FLAG_TABLE_H_
#define KEEL_NODE_ETCD_FLAG_TABLE_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace keel::node {

enum class FlagKind { kString, kBool };
enum class Disposition { kServe, kWarn, kRefuse };

struct EtcdFlag {
  const char* name;
  const char* default_value;  // as etcd --help prints it
  FlagKind kind;
  Disposition disposition;
  const char* why;  // the reason printed with the warning or refusal
};

// Not served by keeld, TLS excluded (kWarn or kRefuse each).
absl::Span<const EtcdFlag> UnservedEtcdFlags();
// TLS flags keeld does not serve: refused unless at etcd's default.
absl::Span<const EtcdFlag> TlsEtcdFlags();
// Either list, or nullptr.
const EtcdFlag* FindUnservedFlag(absl::string_view name);

}  // namespace keel::node

#endif  // KEEL_NODE_ETCD_FLAG_TABLE_H_
