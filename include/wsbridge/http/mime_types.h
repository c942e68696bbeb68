// Content-Type by file-name extension, for static files.
#pragma once
#include <string_view>

namespace wsbridge::http {

// "index.html" → "text/html; charset=utf-8". The extension is matched
// case-insensitively; unknown or missing extensions give
// "application/octet-stream", so a browser downloads rather than guesses.
std::string_view mime_type_for(std::string_view file_name) noexcept;

}  // namespace wsbridge::http
