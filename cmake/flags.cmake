# Warnings are errors everywhere.  -Wconversion is on; -Wsign-conversion is off because the
# libraries we call (jansson, LMDB, libmicrohttpd) mix int and size_t lengths, and we check
# every such length explicitly instead (see docs/architecture.md, "Compiler flags").
set(ECL_WARNINGS
  -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security -Wconversion -Wno-sign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wimplicit-fallthrough -Wundef
  -Wswitch-enum -Wpointer-arith -Wnull-dereference -Wwrite-strings)

set(ECL_HARDEN -fstack-protector-strong -fstack-clash-protection -fPIE)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  list(APPEND ECL_HARDEN -fcf-protection)
endif()
set(ECL_LINK_HARDEN -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

set(ECL_SAN_FLAGS "")
if(ECL_SANITIZE)
  set(ECL_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(ECL_TSAN)
  set(ECL_SAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  # _FORTIFY_SOURCE needs optimisation and conflicts with the sanitizers' interceptors.
  list(APPEND ECL_HARDEN -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)
endif()
if(ECL_FUZZ)
  list(APPEND ECL_SAN_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
endif()

add_compile_options(${ECL_WARNINGS} ${ECL_HARDEN} ${ECL_SAN_FLAGS})
add_link_options(${ECL_LINK_HARDEN} ${ECL_SAN_FLAGS})
add_compile_definitions(_GNU_SOURCE)
