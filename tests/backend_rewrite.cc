// Silent corruption for tests/corruption_test.py: rewrites the value of the newest version
// of one key in a STOPPED member's backend through LevelDB's own API, so every LevelDB
// checksum stays valid and only a comparison with the other replicas can find it.
//
//   backend_rewrite <data-dir> <key> <new value>
//
// Prints the revision it rewrote; exits 1 if the key is not in the backend.
// Layout (kv/backend.h): LevelDB key "key" '\0' <revision> -> serialized mvccpb.KeyValue.
#include <cstdio>
#include <memory>
#include <string>

#include "api/mvccpb/kv.pb.h"
#include "leveldb/db.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: backend_rewrite <data-dir> <key> <new value>\n");
    return 2;
  }
  const std::string db_path = std::string(argv[1]) + "/member/db";
  leveldb::Options options;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, db_path, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "backend_rewrite: open %s: %s\n", db_path.c_str(), s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  const std::string prefix("key\0", 4);
  std::string newest_key;
  mvccpb::KeyValue newest;
  {
    leveldb::ReadOptions ro;
    ro.verify_checksums = true;
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ro));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      mvccpb::KeyValue kv;
      if (!kv.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) continue;
      // Revision order is key order, so the last match is the newest version.
      if (kv.key() == argv[2] && kv.mod_revision() > 0) {
        newest_key = it->key().ToString();
        newest = kv;
      }
    }
    if (!it->status().ok()) {
      std::fprintf(stderr, "backend_rewrite: scan: %s\n", it->status().ToString().c_str());
      return 1;
    }
  }
  if (newest_key.empty()) {
    std::fprintf(stderr, "backend_rewrite: key %s not found\n", argv[2]);
    return 1;
  }
  newest.set_value(argv[3]);
  leveldb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, newest_key, newest.SerializeAsString());
  if (!s.ok()) {
    std::fprintf(stderr, "backend_rewrite: put: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%lld\n", static_cast<long long>(newest.mod_revision()));
  return 0;
}
