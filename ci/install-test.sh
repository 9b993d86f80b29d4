#!/usr/bin/env bash
# ci/install-test.sh [BUILD_DIR]: install a tlsplug build into a temporary
# prefix and build a small program against the installed package, once with
# CMake (find_package(tlsplug CONFIG)) and once with pkg-config, then run
# each.  Also checks that the shared libraries export the tlsplug_ API only.
# BUILD_DIR defaults to out/build-all (made by ci/test.sh); it is built with
# ci/build.sh if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-out/build-all}
[ -f "$build/CMakeCache.txt" ] || bash ci/build.sh "$build"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
so=$(find "$prefix" -name libtlsplug.so -print -quit)
[ -n "$so" ] || { echo "install-test: libtlsplug.so not installed"; exit 1; }
libdir=$(dirname "$so")

fail() { echo "install-test: FAIL: $*"; exit 1; }

echo "== exported symbols"
for lib in "$libdir"/libtlsplug*.so; do
  soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [[ $soname =~ \.so\.[0-9]+$ ]] || fail "$lib has no versioned SONAME ($soname)"
  # nm alone, so set -e sees it fail; grep -v exits 1 when nothing is left
  syms=$(nm -D --defined-only "$lib")
  bad=$(awk '{print $3}' <<<"$syms" | grep -v '^tlsplug_[a-z]' || true)
  [ -z "$bad" ] || fail "$lib exports more than the API: $(echo $bad | head -c 300)"
  echo "$(basename "$lib"): SONAME $soname, $(wc -l <<<"$syms") symbols, all tlsplug_*"
done
[ -f "$libdir/libtlsplug.a" ] || fail "static library not installed"

adapters=()
[ -f "$prefix/include/tlsplug/uv.h" ] && adapters+=(uv)
[ -f "$prefix/include/tlsplug/event.h" ] && adapters+=(event)

# The program: every built backend makes a client context; then, on the
# built-in loop or an adapter's loop, a plain listener and a client exchange
# one message.
mkdir -p "$work/app"
cat >"$work/app/app.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <tlsplug/tlsplug.h>
#if defined(USE_UV)
#include <tlsplug/uv.h>
#elif defined(USE_EVENT)
#include <event2/event.h>
#include <tlsplug/event.h>
#endif

static char got[16];
static int done;

static void on_read(tlsplug_aio *a, const tlsplug_error *e, void *buf, size_t n, void *arg)
{
    if (!e)
        memcpy(got, buf, n < sizeof got - 1 ? n : sizeof got - 1);
    done = 1;
    tlsplug_aio_close(a, NULL, NULL);
    tlsplug_listener_close(arg);
}
static void on_accept(tlsplug_listener *l, tlsplug_aio *a, void *arg)
{
    static char buf[16];
    tlsplug_aio_read(a, buf, sizeof buf, 5000, on_read, l);
}
static void on_written(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    tlsplug_aio_close(a, NULL, NULL);
}
static void on_connect(tlsplug_aio *a, const tlsplug_error *e, void *arg)
{
    if (!e)
        tlsplug_aio_write(a, "ping", 4, 5000, on_written, NULL);
}

int main(void)
{
    tlsplug_impl impls[8];
    size_t n = tlsplug_impl_list(impls, 8);
    for (size_t i = 0; i < n; i++) {
        tlsplug_config *cfg = tlsplug_config_new(TLSPLUG_SIDE_CLIENT);
        tlsplug_config_add_trust_system(cfg);
        tlsplug_ctx *ctx;
        if (tlsplug_ctx_new(&ctx, cfg, impls[i], NULL) != TLSPLUG_OK)
            return 1;
        printf("%s: %s\n", tlsplug_impl_name(impls[i]), tlsplug_impl_version(impls[i]));
        tlsplug_ctx_free(ctx);
        tlsplug_config_free(cfg);
    }
    tlsplug_reactor r;
#if defined(USE_UV)
    uv_loop_t loop;
    uv_loop_init(&loop);
    tlsplug_uv_reactor_init(&r, &loop);
#elif defined(USE_EVENT)
    struct event_base *base = event_base_new();
    tlsplug_event_reactor_init(&r, base);
#else
    tlsplug_loop *loop;
    if (tlsplug_loop_new(&loop, 0))
        return 1;
    r = *tlsplug_loop_reactor(loop);
#endif
    tlsplug_listener *l;
    tlsplug_aio *c;
    if (tlsplug_listen(&l, &r, "127.0.0.1", 0, NULL, on_accept, NULL, NULL) ||
        tlsplug_aio_connect(&c, &r, "127.0.0.1", tlsplug_listener_port(l), NULL, on_connect, NULL))
        return 1;
#if defined(USE_UV)
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        return 1;
#elif defined(USE_EVENT)
    event_base_dispatch(base);
    event_base_free(base);
#else
    tlsplug_loop_run(loop);
    if (tlsplug_loop_free(loop))
        return 1;
#endif
    printf("loop exchange: %s\n", got);
    return done && strcmp(got, "ping") == 0 ? 0 : 1;
}
EOF

echo "== CMake: find_package(tlsplug CONFIG)"
targets="add_executable(app_core app.c)
target_link_libraries(app_core PRIVATE tlsplug::tlsplug)
add_executable(app_core_static app.c)
target_link_libraries(app_core_static PRIVATE tlsplug::tlsplug_static)"
for a in "${adapters[@]}"; do
  A=$(echo "$a" | tr a-z A-Z)
  targets+="
add_executable(app_$a app.c)
target_compile_definitions(app_$a PRIVATE USE_$A)
target_link_libraries(app_$a PRIVATE tlsplug::$a)
add_executable(app_${a}_static app.c)
target_compile_definitions(app_${a}_static PRIVATE USE_$A)
target_link_libraries(app_${a}_static PRIVATE tlsplug::${a}_static)"
done
cat >"$work/app/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(tlsplug_install_test C)
find_package(tlsplug 0.1 CONFIG REQUIRED COMPONENTS ${adapters[*]})
$targets
EOF
cmake -S "$work/app" -B "$work/app-build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log"; fail "configure against the installed package"; }
cmake --build "$work/app-build" >"$work/cmake-build.log" 2>&1 ||
  { cat "$work/cmake-build.log"; fail "build against the installed package"; }
exes=(app_core app_core_static)
for a in "${adapters[@]}"; do exes+=("app_$a" "app_${a}_static"); done
for v in "${exes[@]}"; do
  out=$("$work/app-build/$v") || { echo "$out"; fail "$v"; }
  echo "$v: ok ($(echo "$out" | tail -1))"
done
ldd "$work/app-build/app_core" >"$work/ldd.txt"
grep -q "$libdir/libtlsplug.so.0" "$work/ldd.txt" ||
  fail "app_core is not linked to the installed libtlsplug.so"

echo "== pkg-config"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --exists --print-errors tlsplug || fail "pkg-config tlsplug"
static_libs=$(pkg-config --static --libs tlsplug)
[[ $static_libs == *-pthread* ]] || fail "tlsplug.pc lacks Libs.private ($static_libs)"
# shellcheck disable=SC2046
cc -Wall -Werror "$work/app/app.c" -o "$work/app-pc-core" $(pkg-config --cflags --libs tlsplug) \
  -Wl,-rpath,"$libdir"
"$work/app-pc-core" >/dev/null || fail "app-pc-core"
echo "app (pkg-config tlsplug): ok"
for a in "${adapters[@]}"; do
  A=$(echo "$a" | tr a-z A-Z)
  # shellcheck disable=SC2046
  cc -Wall -Werror -DUSE_$A "$work/app/app.c" -o "$work/app-pc-$a" \
    $(pkg-config --cflags --libs "tlsplug-$a") -Wl,-rpath,"$libdir"
  out=$("$work/app-pc-$a") || { echo "$out"; fail "app-pc-$a"; }
  echo "app (pkg-config tlsplug-$a): ok ($(echo "$out" | tail -1))"
done
echo "== every installed header compiles on its own"
# gnu11, not c11: libuv's own uv.h needs POSIX types strict C11 hides.
for h in "$prefix"/include/tlsplug/*.h; do
  printf '#include <tlsplug/%s>\n' "$(basename "$h")" >"$work/h.c"
  cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" "$work/h.c" ||
    fail "tlsplug/$(basename "$h") does not compile on its own"
done
echo "headers: ok"
echo "install-test: ok (prefix layout: $(cd "$prefix" && find . -type f | wc -l) files)"
