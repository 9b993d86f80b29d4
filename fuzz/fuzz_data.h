/* The input layout of fuzz_data, shared with make-corpus: a settings byte
 * (bits 0-1 context variant, bit 2 the engine under test is the server), then
 * operations, each one byte (taken modulo FZD_COUNT) and its arguments:
 *   P_WRITE len16      the peer writes len % 40000 bytes of data
 *   MOVE max16         up to max bytes (0: all) of the wire to the engine
 *   INJECT n8 bytes    raw bytes onto the wire (after the peer's close_notify
 *                      these are the plain bytes that follow TLS)
 *   FLIP off16 x8      xor a byte of the wire
 *   T_READ cap16       the engine reads
 *   T_WRITE len16      the engine writes len % 40000 bytes
 *   P_SHUTDOWN         the peer sends close_notify
 *   T_SHUTDOWN         the engine sends close_notify
 *   T_EOF              the transport ends
 *   P_READ cap16       the peer reads
 *   T_INFO             info, summary, pending, native handle
 *   DUP off16 n16      repeat wire bytes
 *   DROP off16 n16     lose wire bytes
 *   T_HANDSHAKE        step the (finished) handshake again
 *   PUMP               whole wire to the engine, read until it has nothing */
#ifndef TLSPLUG_FUZZ_DATA_H
#define TLSPLUG_FUZZ_DATA_H

enum fzd_op {
    FZD_P_WRITE, FZD_MOVE, FZD_INJECT, FZD_FLIP, FZD_T_READ, FZD_T_WRITE, FZD_P_SHUTDOWN,
    FZD_T_SHUTDOWN, FZD_T_EOF, FZD_P_READ, FZD_T_INFO, FZD_DUP, FZD_DROP, FZD_T_HANDSHAKE,
    FZD_PUMP, FZD_COUNT
};

#endif
