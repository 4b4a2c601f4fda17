#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the seed corpus of the capture fuzz target (tests/fuzz/corpus/capture).

    capture_seeds.py DIR

A few of tests/datapath/cases.py's crafted captures as they are (Ethernet,
pcap), and one of them in every other form penstock replay reads: pcapng
(with two interfaces of different link types), nanosecond pcap, and the
link types LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL (both byte orders)
and LOOP. Each file is a few hundred bytes to 2 KB. Needs python3-scapy and
editcap/mergecap (tshark's).
"""

import os
import struct
import subprocess
import sys
import tempfile

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.l2 import CookedLinux, Ether  # noqa: E402
from scapy.utils import RawPcapWriter, rdpcap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "datapath", "cases.py")
# As they are: IPv4, IPv6 with extension headers, VLAN tags, two clients,
# keep-alive, a packet cut by the snap length.
AS_IS = ["chat_completion", "ipv6_client", "ipv6_ext_headers_fragment", "vlan_qinq",
         "two_clients", "keepalive_3", "snaplen_method_partial"]
# The one written in every link type: IPv4 and IPv6 clients.
BASE = "two_clients"
V6 = "ipv6_client"

DLT_NULL, DLT_LOOP, DLT_RAW = 0, 108, 101
DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2 = 113, 228, 229, 276


def write_raw(path, linktype, frames, nano=False):
    """frames: (time, bytes) pairs, written as they are."""
    with RawPcapWriter(path, linktype=linktype, nano=nano) as w:
        w.write_header(None)
        for t, b in frames:
            sec = int(t)
            frac = int(round((t - sec) * (1e9 if nano else 1e6)))
            w.write_packet(b, sec=sec, usec=frac)


def l3(pkt):
    return bytes(pkt[Ether].payload)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, CASES, "--write", tmp] + AS_IS, check=True,
                       stdout=subprocess.DEVNULL)
        for name in AS_IS:
            with open(os.path.join(tmp, name + ".pcap"), "rb") as f:
                data = f.read()
            with open(os.path.join(out, name + ".pcap"), "wb") as f:
                f.write(data)
        pkts = rdpcap(os.path.join(tmp, BASE + ".pcap"))
        v6 = rdpcap(os.path.join(tmp, V6 + ".pcap"))

    t = [float(p.time) for p in pkts]
    ip = [l3(p) for p in pkts]
    family = [2 if b[0] >> 4 == 4 else 10 for b in ip]
    proto = [0x0800 if b[0] >> 4 == 4 else 0x86dd for b in ip]

    write_raw(os.path.join(out, "nsec.pcap"), 1, [(x, bytes(p)) for x, p in zip(t, pkts)],
              nano=True)
    write_raw(os.path.join(out, "raw.pcap"), DLT_RAW, zip(t, ip))
    write_raw(os.path.join(out, "ipv4.pcap"), DLT_IPV4,
              [(x, b) for x, b in zip(t, ip) if b[0] >> 4 == 4])
    write_raw(os.path.join(out, "ipv6.pcap"), DLT_IPV6,
              [(float(p.time), l3(p)) for p in v6])
    write_raw(os.path.join(out, "null_le.pcap"), DLT_NULL,
              [(x, struct.pack("<I", f) + b) for x, f, b in zip(t, family, ip)])
    write_raw(os.path.join(out, "null_be.pcap"), DLT_NULL,
              [(x, struct.pack(">I", f) + b) for x, f, b in zip(t, family, ip)])
    write_raw(os.path.join(out, "loop.pcap"), DLT_LOOP,
              [(x, struct.pack(">I", 2 if f == 2 else 24) + b)
               for x, f, b in zip(t, family, ip)])
    write_raw(os.path.join(out, "linux_sll.pcap"), DLT_LINUX_SLL,
              [(x, bytes(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\2" * 6,
                                     proto=pr)) + b)
               for x, pr, b in zip(t, proto, ip)])
    # SLL2: protocol, reserved, ifindex, hatype, packet type, address length, address.
    write_raw(os.path.join(out, "linux_sll2.pcap"), DLT_LINUX_SLL2,
              [(x, struct.pack(">HHIHBB8s", pr, 0, 2, 1, 0, 6, b"\2" * 6) + b)
               for x, pr, b in zip(t, proto, ip)])
    # pcapng: as it is, and merged with the RAW file: two interfaces, two link types.
    base = os.path.join(out, BASE + ".pcap")
    subprocess.run(["editcap", "-F", "pcapng", base, os.path.join(out, "ethernet.pcapng")],
                   check=True)
    subprocess.run(["mergecap", "-F", "pcapng", "-w", os.path.join(out, "two_links.pcapng"),
                    base, os.path.join(out, "raw.pcap")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
