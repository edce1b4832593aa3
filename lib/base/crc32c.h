// CRC-32C (Castagnoli), the checksum of every WAL record, meta file and
// other checksummed file, and of every network frame.
#pragma once

#include <cstdint>
#include <string_view>

namespace dengine::base {

// Extends `crc` (0 to start) over `data`. Uses the SSE4.2 crc32 instruction
// when the CPU has it, a table otherwise; both give the same result.
uint32_t crc32c_extend(uint32_t crc, std::string_view data);

inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

// The table implementation alone, so tests can check both paths agree.
uint32_t crc32c_extend_portable(uint32_t crc, std::string_view data);

}  // namespace dengine::base
