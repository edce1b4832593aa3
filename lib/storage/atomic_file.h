// Small files replaced atomically: the new contents go to "<name>.tmp", are
// synced, renamed over "<name>", and the directory is synced, so a crash
// leaves either the old or the new file, never a mix.
#pragma once

#include <string>
#include <string_view>

#include "storage/file_system.h"
#include "storage/status.h"

namespace dengine::storage {

// What a replace writes first: "<name>" + kReplaceTempSuffix. One found when
// no replace runs was left by a crash; the file it was to replace stands.
inline constexpr char kReplaceTempSuffix[] = ".tmp";

Status replace_file(FileSystem* fs, const std::string& dir,
                    const std::string& name, std::string_view contents);

// Reads a whole file of at most max_bytes (a longer one is kCorruption).
Status read_file(FileSystem* fs, const std::string& path, size_t max_bytes,
                 std::string* out);

}  // namespace dengine::storage
