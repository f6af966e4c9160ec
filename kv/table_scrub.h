// Where a LevelDB corruption is. LevelDB reports a bad data block as "Corruption: block
// checksum mismatch" without naming the table file, so an operator cannot tell which file
// of which member to replace. LocateTableCorruption re-reads every table file of a LevelDB
// directory on its own (leveldb::Table, checksums verified) and names the first one that
// fails, with the byte range of the bad block.
//
// Only for error messages: called after a read already failed, never on a healthy path.
#ifndef KEEL_KV_TABLE_SCRUB_H_
#define KEEL_KV_TABLE_SCRUB_H_

#include <string>

#include "leveldb/env.h"

namespace keel::kv {

// "<dir>/000005.ldb: block checksum mismatch in a data block between offsets 4096 and 8192"
// for the first table file (in name order) that fails, or "" if every table reads clean
// (the damage is elsewhere: the log or the manifest, whose errors LevelDB words itself).
std::string LocateTableCorruption(leveldb::Env* env, const std::string& dir);

}  // namespace keel::kv

#endif  // KEEL_KV_TABLE_SCRUB_H_
