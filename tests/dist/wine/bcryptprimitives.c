/* A stand-in for Windows' bcryptprimitives.dll, for running kapokmq.dll
 * under Wine 8, which lacks that DLL. Rust's standard library takes its
 * random numbers (hash map keys) from ProcessPrng there, available since
 * Windows 10; this one forwards to RtlGenRandom, which Wine has. Only the
 * tests use it: Windows itself has the real DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom, advapi32 */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
