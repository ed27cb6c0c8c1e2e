// core/util/printable.h: text from an image, made safe to print.
#include <catch2/catch.hpp>

#include <string>

#include "core/util/printable.h"

using memscope::printable_text;

TEST_CASE("printable_text: keeps printable ASCII and valid UTF-8 / shows controls and bad bytes as dots") {
  CHECK(printable_text("plain text 0x1000-0x1fff", 100) == "plain text 0x1000-0x1fff");
  CHECK(printable_text("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x94\x8d", 100) == "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x94\x8d");
  CHECK(printable_text("a\x1b[2Jb\x07\n\t\x7f", 100) == "a.[2Jb....");
  // C1 controls as UTF-8 (U+009B is CSI to xterm), and U+00A0 kept.
  CHECK(printable_text("\xc2\x9b" "2J\xc2\x80\xc2\xa0", 100) == ".2J.\xc2\xa0");
  // Not UTF-8: a lone continuation, an overlong '/', a surrogate, a cut
  // sequence at the end, bytes above U+10FFFF.
  CHECK(printable_text("\x80", 100) == ".");
  CHECK(printable_text("\xc0\xaf", 100) == "..");
  CHECK(printable_text("\xed\xa0\x80", 100) == "...");
  CHECK(printable_text("ok\xe4\xb8", 100) == "ok..");
  CHECK(printable_text("\xf4\x90\x80\x80", 100) == "....");
}

TEST_CASE("printable_text: a cut falls on a character boundary and says so") {
  CHECK(printable_text("abcdef", 6) == "abcdef");
  CHECK(printable_text("abcdefg", 6) == "abcdef [cut at 6 bytes]");
  CHECK(printable_text("\xc3\xa9\xc3\xa9\xc3\xa9", 3) == "\xc3\xa9 [cut at 3 bytes]");
  CHECK(printable_text("", 0).empty());
  CHECK(printable_text("x", 0) == " [cut at 0 bytes]");
}
