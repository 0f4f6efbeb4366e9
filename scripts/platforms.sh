# The platforms kapokmq ships for, sourced by scripts/dist.sh and the tests
# of what it builds. One line each:
#   NAME                RUST TARGET                         BUILD      WHEEL PLATFORM TAG                           NODE DIR
# BUILD says how the library is compiled (Linux ones linked by zig through
# cargo-zigbuild, see dist-tools.sh; Windows by MinGW-w64):
#   host       with the machine's own toolchain (rustup's)
#   std        with Debian's cargo and rustc and their prebuilt std for
#              the target (scripts/cross-tools.sh installs them)
#   build-std  with Debian's cargo and rustc, std compiled from its sources
#              (-Z build-std; no prebuilt std exists for the target here)
# A `.2.17` suffix asks zig to link against glibc 2.17 (manylinux2014).
KMQ_PLATFORM_TABLE='
linux-x86_64        x86_64-unknown-linux-gnu.2.17       host       manylinux_2_17_x86_64.manylinux2014_x86_64   linux-x64
linux-aarch64       aarch64-unknown-linux-gnu.2.17      std        manylinux_2_17_aarch64.manylinux2014_aarch64 linux-arm64
linux-x86_64-musl   x86_64-unknown-linux-musl           build-std  musllinux_1_2_x86_64                         linux-x64-musl
linux-aarch64-musl  aarch64-unknown-linux-musl          build-std  musllinux_1_2_aarch64                        linux-arm64-musl
windows-x86_64      x86_64-pc-windows-gnu               build-std  win_amd64                                    win32-x64
'

# What a program linked with the Windows libkapokmq.a also needs (the C
# SDK's README says it; the tests link with it).
KMQ_WINDOWS_STATIC_LIBS="-lws2_32 -lbcrypt -lntdll -luserenv -ladvapi32 -lkernel32 -lcrypt32 -lsynchronization"

# The platforms' names, in the table's order.
kmq_platforms() {
    awk 'NF { print $1 }' <<<"$KMQ_PLATFORM_TABLE"
}

# Sets plat_target, plat_build, plat_wheel, plat_node, plat_triple (the
# target without the glibc suffix), plat_os (linux or windows), plat_lib
# (the shared library's file name) and plat_strip (the strip program for
# its architecture) for platform $1.
kmq_platform() {
    local line
    line=$(awk -v n="$1" '$1 == n' <<<"$KMQ_PLATFORM_TABLE")
    [[ -n $line ]] || { echo "unknown platform $1 (known: $(kmq_platforms | tr '\n' ' '))" >&2; return 1; }
    read -r _ plat_target plat_build plat_wheel plat_node <<<"$line"
    plat_triple=${plat_target%.2.17}
    case $plat_triple in
        *-windows-*) plat_os=windows plat_lib=kapokmq.dll plat_strip=x86_64-w64-mingw32-strip ;;
        aarch64-*) plat_os=linux plat_lib=libkapokmq.so plat_strip=aarch64-linux-gnu-strip ;;
        *) plat_os=linux plat_lib=libkapokmq.so plat_strip=strip ;;
    esac
}
