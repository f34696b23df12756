// Virtual board: the accelerator core (Verilator model of the same gateware as the board),
// cut at the UART byte boundary, serving the link on a TCP port on 127.0.0.1.
// Usage: vboard PORT   (PORT 0 picks a free port). Prints "LISTENING <port>" when ready.
// One client at a time; the core keeps its state between clients (like a powered board).
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "Vcore.h"
#include "verilated.h"

// Verilator escapes "__" in port names as "___05F"
#define RX_VALID rx___05Fvalid
#define RX_READY rx___05Fready
#define RX_PAYLOAD rx___05Fpayload
#define TX_VALID tx___05Fvalid
#define TX_READY tx___05Fready
#define TX_PAYLOAD tx___05Fpayload

static Vcore* top;
static unsigned long long cycles = 0;

static inline void tick() {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
    cycles++;
}

static bool send_all(int fd, const std::vector<unsigned char>& buf) {
    size_t off = 0;
    while (off < buf.size()) {
        ssize_t n = send(fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) { struct pollfd p{fd, POLLOUT, 0}; poll(&p, 1, 100); continue; }
            return false;
        }
        off += (size_t)n;
    }
    return true;
}

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    int port = argc > 1 ? atoi(argv[1]) : 0;
    signal(SIGPIPE, SIG_IGN);
    top = new Vcore;
    top->rst = 1;
    top->RX_VALID = 0;
    top->TX_READY = 0;
    for (int i = 0; i < 4; i++) tick();
    top->rst = 0;

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    if (bind(ls, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(ls, 1) < 0) {
        fprintf(stderr, "vboard: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 2;
    }
    socklen_t alen = sizeof addr;
    getsockname(ls, (struct sockaddr*)&addr, &alen);
    printf("LISTENING %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    for (;;) {
        int fd = accept(ls, nullptr, nullptr);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        std::deque<unsigned char> inq;
        std::vector<unsigned char> out;
        unsigned long long idle = 0, start = cycles, first_out = 0, last_out = 0, outs = 0, busy = 0, out_since = 0;
        // per stripe (busy period): the span from its first to its last output pixel, summed
        unsigned long long seg_first = 0, seg_last = 0, seg_outs = 0, steady = 0, stripes = 0;
        bool was_busy = false;
        bool open = true;
        unsigned char buf[65536];
        while (open) {
            // read from the socket when starved, or now and then
            if (inq.empty() || (cycles & 1023) == 0) {
                for (;;) {
                    ssize_t n = recv(fd, buf, sizeof buf, 0);
                    if (n > 0) { inq.insert(inq.end(), buf, buf + n); continue; }
                    if (n == 0) open = false;
                    break;
                }
            }
            top->RX_VALID = !inq.empty();
            top->RX_PAYLOAD = inq.empty() ? 0 : inq.front();
            top->TX_READY = 1;
            top->clk = 0;
            top->eval();
            bool rx_fire = top->RX_VALID && top->RX_READY;
            bool tx_fire = top->TX_VALID;
            unsigned char txb = (unsigned char)top->TX_PAYLOAD;
            top->clk = 1;
            top->eval();
            cycles++;
            if (top->out_fire) {
                if (!outs) first_out = cycles;
                last_out = cycles;
                outs++;
                if (!seg_outs) seg_first = cycles;
                seg_last = cycles;
                seg_outs++;
            }
            if (top->busy) busy++;
            if (was_busy && !top->busy && seg_outs) {
                steady += seg_last - seg_first;
                stripes++;
                seg_outs = 0;
            }
            was_busy = top->busy;
            if (rx_fire) inq.pop_front();
            if (tx_fire) {
                if (out.empty()) out_since = cycles;
                out.push_back(txb);
            }
            bool io = rx_fire || tx_fire;
            idle = io ? 0 : idle + 1;
            // bytes go to the socket in batches: 4096 of them, a pause of 64 cycles, or 1024 cycles
            // after the oldest (a link that sends a byte every few cycles never pauses 64: without
            // the age bound an ACK could wait behind a whole stripe's results)
            if (!out.empty() && (out.size() >= 4096 || idle > 64 || cycles - out_since > 1024)) {
                if (!send_all(fd, out)) open = false;
                out.clear();
            }
            if (idle > 4096 && inq.empty()) {
                // no traffic: check the socket; block a little only if the core has nothing to do
                struct pollfd p{fd, POLLIN, 0};
                poll(&p, 1, top->busy ? 0 : 20);
                idle = 0;
            }
        }
        if (!out.empty()) send_all(fd, out);
        close(fd);
        fprintf(stderr, "vboard: client closed after %llu cycles\n", cycles);
        // one JSON line per session, for `bbcu bench`
        if (seg_outs) { steady += seg_last - seg_first; stripes++; }
        fprintf(stderr, "VBOARD_STATS {\"cycles\": %llu, \"busy_cycles\": %llu, \"out_pixels\": %llu, "
                "\"first_out\": %llu, \"last_out\": %llu, \"steady_cycles\": %llu, \"stripes\": %llu}\n",
                cycles - start, busy, outs, first_out ? first_out - start : 0, last_out ? last_out - start : 0,
                steady, stripes);
        fflush(stderr);
    }
}
