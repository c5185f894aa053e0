/*
 * Magic-byte detection of the passive file types Herald accepts as uploads. Each binary type
 * is recognised by its format's own signature (and, for containers, the brand or doc type
 * that names the payload); anything else is text/plain only when it is strict UTF-8 without
 * NUL or stray control bytes and does not open with markup. Checked in a fixed order, binary
 * signatures first, so a polyglot resolves to its binary type.
 */
#include "media/sniff.h"

#include <string.h>
#include <strings.h>

enum {
    T_PNG,
    T_JPEG,
    T_GIF,
    T_WEBP,
    T_PDF,
    T_ZIP,
    T_MP3,
    T_OGG,
    T_WAV,
    T_M4A,
    T_MP4,
    T_WEBM,
    T_TXT,
    T_COUNT
};

static const struct media_type types[T_COUNT] = {
    [T_PNG] = {"image/png", "png", true},        [T_JPEG] = {"image/jpeg", "jpg", true},
    [T_GIF] = {"image/gif", "gif", true},        [T_WEBP] = {"image/webp", "webp", true},
    [T_PDF] = {"application/pdf", "pdf", false}, [T_ZIP] = {"application/zip", "zip", false},
    [T_MP3] = {"audio/mpeg", "mp3", false},      [T_OGG] = {"audio/ogg", "ogg", false},
    [T_WAV] = {"audio/wav", "wav", false},       [T_M4A] = {"audio/mp4", "m4a", false},
    [T_MP4] = {"video/mp4", "mp4", false},       [T_WEBM] = {"video/webm", "webm", false},
    [T_TXT] = {"text/plain", "txt", false},
};

static bool has(const uint8_t *buf, size_t len, size_t off, const char *magic, size_t n)
{
    return len >= off + n && memcmp(buf + off, magic, n) == 0;
}

/* An MPEG-1/2/2.5 Layer III frame header: sync, a defined version, layer III, a bitrate
 * index other than "bad" and a defined sampling rate. AAC (layer 00) and JPEG do not match. */
static bool is_mp3_frame(const uint8_t *b, size_t len)
{
    if (len < 4 || b[0] != 0xFF || (b[1] & 0xE0) != 0xE0)
        return false;
    unsigned version = (b[1] >> 3) & 3, layer = (b[1] >> 1) & 3;
    unsigned bitrate = b[2] >> 4, rate = (b[2] >> 2) & 3;
    return version != 1 && layer == 1 && bitrate != 15 && rate != 3;
}

/* "ID3" v2.2-2.4 tag header: version bytes below 0xFF, size bytes are 7-bit. */
static bool is_id3(const uint8_t *b, size_t len)
{
    if (!has(b, len, 0, "ID3", 3) || len < 10)
        return false;
    if (b[3] < 2 || b[3] > 4 || b[4] == 0xFF)
        return false;
    return ((b[6] | b[7] | b[8] | b[9]) & 0x80) == 0;
}

/* ISO base media file: a first box "ftyp" whose major brand names the payload. */
static int ftyp_type(const uint8_t *b, size_t len)
{
    static const char *const audio[] = {"M4A ", "M4B ", "M4P ", "F4A ", "F4B "};
    static const char *const video[] = {"isom", "iso2", "iso3", "iso4", "iso5", "iso6",
                                        "mp41", "mp42", "avc1", "M4V ", "M4VH", "M4VP",
                                        "dash", "msnv", "f4v ", "mmp4"};
    if (!has(b, len, 4, "ftyp", 4) || len < 12)
        return -1;
    uint32_t box = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if (box < 16 || box > 4096 || box % 4 != 0) /* major, minor and >= 1 compatible brand */
        return -1;
    for (size_t i = 0; i < sizeof(audio) / sizeof(audio[0]); i++)
        if (memcmp(b + 8, audio[i], 4) == 0)
            return T_M4A;
    for (size_t i = 0; i < sizeof(video) / sizeof(video[0]); i++)
        if (memcmp(b + 8, video[i], 4) == 0)
            return T_MP4;
    return -1;
}

/* An EBML variable-length integer at b[*pos]; its marker bit is kept for IDs (as Matroska
 * writes them) and dropped for sizes. -1 when malformed or past len. */
static int ebml_vint(const uint8_t *b, size_t len, size_t *pos, bool keep_marker, uint64_t *v)
{
    if (*pos >= len || b[*pos] == 0)
        return -1;
    unsigned n = 1;
    while (!(b[*pos] & (0x80u >> (n - 1))))
        n++;
    if (n > 8 || *pos + n > len)
        return -1;
    uint64_t x = keep_marker ? b[*pos] : (b[*pos] & (0xFFu >> n));
    for (unsigned i = 1; i < n; i++)
        x = x << 8 | b[*pos + i];
    *pos += n;
    *v = x;
    return 0;
}

/* An EBML header (ID 1A45DFA3) whose DocType element (ID 4282) is exactly "webm". A
 * Matroska file ("matroska") is not WebM and does not match. */
static bool is_webm(const uint8_t *b, size_t len)
{
    size_t pos = 0;
    uint64_t id, size;
    if (ebml_vint(b, len, &pos, true, &id) != 0 || id != 0x1A45DFA3 ||
        ebml_vint(b, len, &pos, false, &size) != 0)
        return false;
    size_t end = size < len - pos ? pos + (size_t)size : len;
    while (pos < end) {
        if (ebml_vint(b, end, &pos, true, &id) != 0 || ebml_vint(b, end, &pos, false, &size) != 0)
            return false;
        if (size > end - pos)
            return false;
        if (id == 0x4282)
            return size == 4 && memcmp(b + pos, "webm", 4) == 0;
        pos += (size_t)size;
    }
    return false;
}

/* Length of the UTF-8 sequence starting at b[0] (1..4), 0 when invalid (overlong forms,
 * surrogates, beyond U+10FFFF), or -(needed) when the buffer ends inside a valid prefix. */
static int utf8_seq(const uint8_t *b, size_t avail)
{
    uint8_t c = b[0];
    int n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail)
            return -n;
        uint8_t cc = b[i];
        if (i == 1 ? (cc < lo || cc > hi) : (cc & 0xC0) != 0x80)
            return 0;
    }
    return n;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Strict UTF-8 text: no NUL, no C0 control other than tab, line feed, vertical tab, form
 * feed, carriage return and escape, no DEL. A sequence cut by the end of the buffer is
 * accepted only when the buffer is a MEDIA_SNIFF_LEN prefix of a longer file. Text whose
 * first non-space character is '<' is markup (HTML, SVG, XML, a script) and is refused. */
static bool is_text(const uint8_t *b, size_t len)
{
    size_t i = 0;
    if (len == 0)
        return false;
    if (has(b, len, 0, "\xEF\xBB\xBF", 3))
        i = 3;
    size_t j = i;
    while (j < len && is_space(b[j]))
        j++;
    if (j < len && b[j] == '<')
        return false;
    while (i < len) {
        uint8_t c = b[i];
        if (c < 0x20 && !is_space(c) && c != 0x1B)
            return false;
        if (c == 0x7F)
            return false;
        int n = utf8_seq(b + i, len - i);
        if (n == 0)
            return false;
        if (n < 0)
            return len >= MEDIA_SNIFF_LEN;
        i += (size_t)n;
    }
    return true;
}

static int sniff_index(const uint8_t *b, size_t len)
{
    if (has(b, len, 0, "\x89PNG\r\n\x1A\n", 8))
        return T_PNG;
    if (has(b, len, 0, "\xFF\xD8\xFF", 3))
        return T_JPEG;
    if (has(b, len, 0, "GIF87a", 6) || has(b, len, 0, "GIF89a", 6))
        return T_GIF;
    if (has(b, len, 0, "RIFF", 4) && has(b, len, 8, "WEBPVP8", 7))
        return T_WEBP;
    if (has(b, len, 0, "RIFF", 4) && has(b, len, 8, "WAVE", 4))
        return T_WAV;
    if (has(b, len, 0, "%PDF-", 5))
        return T_PDF;
    if (has(b, len, 0, "PK\x03\x04", 4) || has(b, len, 0, "PK\x05\x06", 4))
        return T_ZIP;
    if (is_id3(b, len) || is_mp3_frame(b, len))
        return T_MP3;
    if (has(b, len, 0, "OggS\0", 5))
        return T_OGG;
    int t = ftyp_type(b, len);
    if (t >= 0)
        return t;
    if (is_webm(b, len))
        return T_WEBM;
    if (is_text(b, len))
        return T_TXT;
    return -1;
}

const struct media_type *media_sniff(const uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return NULL;
    int t = sniff_index(buf, len);
    return t < 0 ? NULL : &types[t];
}

const struct media_type *media_type_by_mime(const char *mime)
{
    if (mime == NULL)
        return NULL;
    for (size_t i = 0; i < T_COUNT; i++)
        if (strcasecmp(types[i].mime, mime) == 0)
            return &types[i];
    return NULL;
}
