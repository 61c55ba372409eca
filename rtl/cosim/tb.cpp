// nmsat co-simulation testbench for the generated `sat_top` (Verilator).
//
// Usage: Vsat_top IN OUT [VCD]
//
// IN (text, written by nmsat-rtl's cosim harness):
//   MAXC <cycles>                       give up after this many run cycles
//   FAULT <code>                        switch a fault on (fault-injection builds only)
//   I <index> <queue> <64 hex digits>   an instruction (bytes in order), program order
//   DRAM <bytes>                        size of the DRAM image
//   SEG <addr> <hex bytes>              initial DRAM contents
//   BUF <buffer> <start> <hex> <hex> ... initial buffer elements (0 A, 1 W, 2 O), via the test port
//   DUMP <buffer> <count>               print the first <count> elements of a buffer after the run
// OUT (text):
//   R <index> <issue cycle> <retire cycle>   for every instruction (-1 when it never happened)
//   TOTAL <cycles>
//   STATUS ok|timeout|error|protocol <detail>
//   CYCLES <run cycles simulated>  SECONDS <wall seconds of the run loop>
//   B <buffer> <hex> <hex> ...           for each DUMP line
//   M <hex bytes>                        the final DRAM image
//
// The testbench knows each queue's program order, so the trace port (which
// queues issue, how many instructions of each queue retire, per cycle) is
// enough to recover every instruction's issue and retirement cycle.
//
// DRAM model: the RTL's memory interface has NMSAT_DMA_UNITS units per
// cycle, each with a read window and a bit-masked write window of
// NMSAT_DMA_WINDOW bytes (compile-time constants of the build). Every
// cycle, after the clock's falling edge, the model applies the cycle's
// writes, then serves the cycle's reads (the data is an input in the same
// cycle), then the rising edge follows.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "Vsat_top.h"
#include "verilated.h"
#include "verilated_vcd_c.h"

#ifndef NMSAT_DMA_UNITS
#error "build with -DNMSAT_DMA_UNITS=<units> -DNMSAT_DMA_WINDOW=<bytes>"
#endif

static const int kAddrBits = 40;

// 32-bit word `i` of a port of any width (scalar ports hold at most 64 bits).
template <typename T>
static uint32_t word(const T& v, int i) {
    uint64_t x = (uint64_t)v;
    return i == 0 ? (uint32_t)x : i == 1 ? (uint32_t)(x >> 32) : 0;
}
template <std::size_t N>
static uint32_t word(const VlWide<N>& v, int i) {
    return i < (int)N ? v[i] : 0;
}
template <typename T>
static void set_word(T& v, int i, uint32_t x) {
    uint64_t y = (uint64_t)v;
    if (i == 0) y = (y & ~0xffffffffull) | x;
    if (i == 1) y = (y & 0xffffffffull) | ((uint64_t)x << 32);
    v = (T)y;
}
template <std::size_t N>
static void set_word(VlWide<N>& v, int i, uint32_t x) {
    if (i < (int)N) v[i] = x;
}
// Bits [lo, lo + n) of a port, n <= 64.
template <typename T>
static uint64_t bits(const T& v, int lo, int n) {
    uint64_t r = 0;
    for (int b = 0; b < n; b++) r |= (uint64_t)(word(v, (lo + b) / 32) >> ((lo + b) % 32) & 1) << b;
    return r;
}
// Byte `i` of a port.
template <typename T>
static uint8_t byte_of(const T& v, int i) {
    return (uint8_t)(word(v, i / 4) >> (8 * (i % 4)));
}
template <typename T>
static void set_byte(T& v, int i, uint8_t x) {
    uint32_t w = word(v, i / 4);
    int sh = 8 * (i % 4);
    set_word(v, i / 4, (w & ~(0xffu << sh)) | ((uint32_t)x << sh));
}

// Serves the memory interface for the current cycle: writes, then reads.
// Returns false (and sets `why`) on an access outside the DRAM.
static bool serve_dram(Vsat_top* top, std::vector<uint8_t>& dram, std::string& why) {
    const int U = NMSAT_DMA_UNITS, W = NMSAT_DMA_WINDOW;
    for (int g = 0; g < U; g++) {
        if (!(bits(top->dram_wr_en, g, 1))) continue;
        uint64_t a = bits(top->dram_wr_addr, g * kAddrBits, kAddrBits);
        for (int i = 0; i < W; i++) {
            uint8_t m = byte_of(top->dram_wr_mask, g * W + i);
            if (!m) continue;
            if (a + i >= dram.size()) {
                why = "protocol DRAM write outside the image at byte " + std::to_string(a + i);
                return false;
            }
            uint8_t d = byte_of(top->dram_wr_data, g * W + i);
            dram[a + i] = (uint8_t)((dram[a + i] & ~m) | (d & m));
        }
    }
    bool read = false;
    for (int g = 0; g < U; g++) {
        if (!(bits(top->dram_rd_en, g, 1))) continue;
        read = true;
        uint64_t a = bits(top->dram_rd_addr, g * kAddrBits, kAddrBits);
        if (a >= dram.size()) {
            why = "protocol DRAM read outside the image at byte " + std::to_string(a);
            return false;
        }
        // A window may reach past the image (unused lanes of the last unit): zeros.
        for (int i = 0; i < W; i++) set_byte(top->dram_rd_data, g * W + i, a + i < dram.size() ? dram[a + i] : 0);
    }
    if (read) top->eval();
    return true;
}

struct Instr {
    long index;
    int queue;
    uint32_t words[8];
};

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool parse_bytes(const char* hex, std::vector<uint8_t>& out) {
    size_t n = strlen(hex);
    while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r' || hex[n - 1] == ' ')) n--;
    if (n % 2) return false;
    out.resize(n / 2);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return true;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s IN OUT [VCD]\n", argv[0]);
        return 2;
    }
    FILE* in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 2;
    }
    std::vector<Instr> instrs;
    struct BufInit {
        int sel;
        uint64_t start;
        std::vector<uint64_t> vals;
    };
    std::vector<BufInit> bufinit;
    std::vector<std::pair<int, uint64_t>> dumps;
    std::vector<uint8_t> dram;
    uint64_t maxc = 1000000;
    unsigned fault = 0;
    std::vector<char> line(1 << 24);
    while (fgets(line.data(), (int)line.size(), in)) {
        char* s = line.data();
        if (!strncmp(s, "MAXC ", 5)) {
            maxc = strtoull(s + 5, nullptr, 10);
        } else if (!strncmp(s, "FAULT ", 6)) {
            fault = (unsigned)strtoul(s + 6, nullptr, 10);
        } else if (!strncmp(s, "I ", 2)) {
            Instr ins;
            char* p = s + 2;
            ins.index = strtol(p, &p, 10);
            ins.queue = (int)strtol(p, &p, 10);
            while (*p == ' ') p++;
            std::vector<uint8_t> b;
            if (!parse_bytes(p, b) || b.size() != 32 || ins.queue < 0 || ins.queue > 2) {
                fprintf(stderr, "bad instruction line\n");
                return 2;
            }
            for (int w = 0; w < 8; w++)
                ins.words[w] = (uint32_t)b[4 * w] | (uint32_t)b[4 * w + 1] << 8 | (uint32_t)b[4 * w + 2] << 16 |
                               (uint32_t)b[4 * w + 3] << 24;
            instrs.push_back(ins);
        } else if (!strncmp(s, "DRAM ", 5)) {
            dram.assign(strtoull(s + 5, nullptr, 10), 0);
        } else if (!strncmp(s, "BUF ", 4)) {
            char* p = s + 4;
            BufInit b;
            b.sel = (int)strtol(p, &p, 10);
            b.start = strtoull(p, &p, 10);
            for (;;) {
                while (*p == ' ') p++;
                if (*p == '\n' || *p == 0) break;
                b.vals.push_back(strtoull(p, &p, 16));
            }
            bufinit.push_back(b);
        } else if (!strncmp(s, "DUMP ", 5)) {
            char* p = s + 5;
            int sel = (int)strtol(p, &p, 10);
            dumps.push_back({sel, strtoull(p, &p, 10)});
        } else if (!strncmp(s, "SEG ", 4)) {
            char* p = s + 4;
            uint64_t addr = strtoull(p, &p, 10);
            while (*p == ' ') p++;
            std::vector<uint8_t> b;
            if (!parse_bytes(p, b) || addr + b.size() > dram.size()) {
                fprintf(stderr, "bad DRAM segment\n");
                return 2;
            }
            memcpy(dram.data() + addr, b.data(), b.size());
        }
    }
    fclose(in);

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->traceEverOn(argc > 3);
    auto top = std::make_unique<Vsat_top>(ctx.get());
    std::unique_ptr<VerilatedVcdC> vcd;
    if (argc > 3) {
        vcd.reset(new VerilatedVcdC);
        top->trace(vcd.get(), 99);
        vcd->open(argv[3]);
    }
    uint64_t ts = 0;
    auto half = [&](int clk) {
        top->clk = clk;
        top->eval();
        if (vcd) vcd->dump(ts);
        ts++;
    };
    auto tick = [&]() {
        half(0);
        half(1);
    };

#ifdef NMSAT_FAULTS
    top->fault_sel = (uint8_t)fault;
#else
    if (fault) {
        fprintf(stderr, "a fault was requested from a build without fault injection\n");
        return 2;
    }
#endif
    top->rst = 1;
    top->host_we = 0;
    top->host_len_we = 0;
    top->start = 0;
    tick();
    tick();
    top->rst = 0;
    std::vector<long> order[3];
    for (const Instr& ins : instrs) {
        int q = ins.queue;
        top->host_we = (uint8_t)(1u << q);
        top->host_addr = (uint32_t)order[q].size();
        for (int w = 0; w < 8; w++) top->host_data[w] = ins.words[w];
        order[q].push_back(ins.index);
        tick();
    }
    top->host_we = 0;
    for (const BufInit& b : bufinit) {
        for (size_t i = 0; i < b.vals.size(); i++) {
            top->host_buf_we = 1;
            top->host_buf_sel = (uint8_t)b.sel;
            top->host_buf_addr = (uint32_t)(b.start + i);
            top->host_buf_wdata = b.vals[i];
            tick();
        }
    }
    top->host_buf_we = 0;
    for (int q = 0; q < 3; q++) {
        top->host_len_we = (uint8_t)(1u << q);
        top->host_len = (uint32_t)order[q].size();
        tick();
    }
    top->host_len_we = 0;
    top->start = 1;
    tick();
    top->start = 0;

    long n = 0;
    for (const Instr& ins : instrs) n = ins.index + 1 > n ? ins.index + 1 : n;
    std::vector<long long> issue(n, -1), retire(n, -1);
    size_t pi[3] = {0, 0, 0}, pr[3] = {0, 0, 0};
    std::string status = "ok";
    uint64_t total = 0, run_cycles = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
        top->clk = 0;
        top->eval();
        std::string why;
        if (!serve_dram(top.get(), dram, why)) {
            status = why;
            total = top->cycle;
            break;
        }
        if (top->running) {
            uint64_t t = top->cycle;
            run_cycles++;
            for (int q = 0; q < 3; q++) {
                if (top->tr_issue >> q & 1) {
                    if (pi[q] >= order[q].size()) {
                        status = "protocol issue past the end of queue " + std::to_string(q);
                        break;
                    }
                    issue[order[q][pi[q]++]] = (long long)t;
                }
            }
            unsigned nret[3] = {top->tr_retire_ld, top->tr_retire_c, top->tr_retire_st};
            for (int q = 0; q < 3; q++) {
                for (unsigned k = 0; k < nret[q]; k++) {
                    if (pr[q] >= pi[q]) {
                        status = "protocol retirement of an instruction not issued, queue " + std::to_string(q);
                        break;
                    }
                    retire[order[q][pr[q]++]] = (long long)t;
                }
            }
            if (status != "ok") break;
            if (t >= maxc) {
                status = "timeout";
                total = t;
                break;
            }
        }
        if (top->done) {
            total = top->cycle;
            break;
        }
        if (vcd) vcd->dump(ts);
        ts++;
        half(1);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // A store's last DRAM write may follow its retirement by a cycle when
    // the DRAM latency is 0: let the DMA engine drain.
    for (int i = 0; i < 4 && status == "ok"; i++) {
        std::string why;
        half(1);
        top->clk = 0;
        top->eval();
        if (!serve_dram(top.get(), dram, why)) status = why;
    }
    if (status == "ok" && top->error)
        status = "error internal bound exceeded (retirement queue, ring, tokens, a late DMA transfer or a k = 0 tile beyond the clear port)";
    if (vcd) {
        half(0);
        vcd->close();
    }
    std::string dumped;
    for (auto& d : dumps) {
        dumped += "B " + std::to_string(d.first);
        char buf[32];
        for (uint64_t i = 0; i < d.second; i++) {
            top->host_buf_sel = (uint8_t)d.first;
            top->host_buf_addr = (uint32_t)i;
            top->clk = 0;
            top->eval();
            snprintf(buf, sizeof buf, " %llx", (unsigned long long)top->host_buf_rdata);
            dumped += buf;
        }
        dumped += "\n";
    }
    top->final();

    FILE* out = fopen(argv[2], "w");
    if (!out) {
        perror(argv[2]);
        return 2;
    }
    for (long i = 0; i < n; i++) fprintf(out, "R %ld %lld %lld\n", i, issue[i], retire[i]);
    fprintf(out, "TOTAL %llu\n", (unsigned long long)total);
    fprintf(out, "CYCLES %llu SECONDS %.6f\n", (unsigned long long)run_cycles, secs);
    fprintf(out, "STATUS %s\n", status.c_str());
    fputs(dumped.c_str(), out);
    fputs("M ", out);
    static const char* hexd = "0123456789abcdef";
    std::string hex(2 * dram.size(), '0');
    for (size_t i = 0; i < dram.size(); i++) {
        hex[2 * i] = hexd[dram[i] >> 4];
        hex[2 * i + 1] = hexd[dram[i] & 15];
    }
    fputs(hex.c_str(), out);
    fputs("\n", out);
    fclose(out);
    return 0;
}
