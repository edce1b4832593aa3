// The session decoders of lib/sm/session.h: the envelope every proposed entry
// carries and the session table saved in snapshots. The first byte picks
// which; neither may crash, and what they accept re-encodes to the same
// bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sm/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  using namespace dengine::sm;
  if (data[0] % 2 == 0) {
    Envelope envelope;
    if (decode_envelope(input, &envelope)) {
      std::string again;
      switch (envelope.format) {
        case EnvelopeFormat::kPlain:
          again = wrap_plain(envelope.payload);
          break;
        case EnvelopeFormat::kSession:
          again = wrap_session(envelope.session, envelope.payload);
          break;
        case EnvelopeFormat::kRegister:
          again = wrap_register();
          break;
      }
      if (again != input) abort();
    }
  } else {
    SessionTable table;
    if (SessionTable::decode(input, &table) && table.encode() != input) {
      abort();
    }
  }
  return 0;
}
