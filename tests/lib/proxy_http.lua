-- SPDX-License-Identifier: GPL-2.0-only
--
-- tshark plugin for tests/lib/tshark_counts.py --proxy-protocol: HTTP on
-- TCP ports whose connections start with a PROXY protocol header (HAProxy's
-- "The PROXY protocol", versions 1 and 2).
--
--   tshark -X lua_script:proxy_http.lua -X lua_script1:8000,8001 ...
--
-- tshark 4.0 has a PROXY dissector, but only as a heuristic that takes the
-- header and leaves whatever follows it in the same segment undissected: a
-- request sent with its header is lost. This dissector, put on the given
-- ports in place of HTTP, finds the header at the start of each client
-- stream (the first client bytes of the connection tshark hands on), gives
-- exactly its bytes to tshark's PROXY dissector (which adds the proxy.*
-- fields: the declared addresses), and gives every byte after it, and
-- every byte of the server's stream, to tshark's HTTP dissector, keeping
-- TCP reassembly going across the header.
--
-- What is a header (proxy-protocol.txt, sections 2.1 and 2.2):
--   v1  "PROXY " and a line of at most 107 bytes ending in CR LF, naming
--       TCP4 with two IPv4 addresses, or TCP6 with two IPv6 addresses, and
--       two ports 0..65535; or naming UNKNOWN (then anything up to CR LF);
--   v2  the 12-byte signature, version 2, command LOCAL or PROXY, then as
--       many bytes as its length says; with PROXY and an IPv4, IPv6 or UNIX
--       family, at least that family's address block (12, 36, 216 bytes).
-- Anything else at the start of the stream is no header, and the stream is
-- HTTP from its first byte. Fields added (to the frame where the header
-- ends): pxhttp.header_len (the header's bytes), pxhttp.version (1 or 2);
-- or pxhttp.bad (why the stream's start is no header).

local ports = {}
for p in string.gmatch((... or ""), "%d+") do
	ports[tonumber(p)] = true
end

local pxhttp = Proto("pxhttp", "PROXY header, then HTTP")
local f_len = ProtoField.uint32("pxhttp.header_len", "PROXY header length")
local f_ver = ProtoField.uint8("pxhttp.version", "PROXY version")
local f_bad = ProtoField.string("pxhttp.bad", "No PROXY header")
pxhttp.fields = { f_len, f_ver, f_bad }

local f_stream = Field.new("tcp.stream")
local http = Dissector.get("http-over-tcp")

local V1_MAX = 107
local V2_SIG = "\r\n\r\n\0\r\nQUIT\n"

-- tcp.stream -> true once the client stream's start has been decided.
local started = {}

function pxhttp.init()
	started = {}
end

local function ipv4_ok(s)
	local a, b, c, d = s:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
	if not a then
		return false
	end
	for _, x in ipairs({ a, b, c, d }) do
		if tonumber(x) > 255 then
			return false
		end
	end
	return true
end

-- RFC 4291 section 2.2 text, as inet_pton reads it: eight groups of 1..4
-- hex digits, or fewer around one "::"; the last two groups may be written
-- as a dotted IPv4 address.
local function ipv6_groups(s)
	if s == "" then
		return 0
	end
	local n = 0
	for g in string.gmatch(s .. ":", "(.-):") do
		if not g:match("^%x%x?%x?%x?$") then
			return nil
		end
		n = n + 1
	end
	return n
end

local function ipv6_ok(s)
	local pre, v4 = s:match("^(.*:)(%d+%.%d+%.%d+%.%d+)$")
	if pre then
		if not ipv4_ok(v4) then
			return false
		end
		s = pre .. "0:0"
	end
	local head, tail = s:match("^(.-)::(.*)$")
	if head then
		local a, b = ipv6_groups(head), ipv6_groups(tail)
		return a ~= nil and b ~= nil and a + b <= 7
	end
	return ipv6_groups(s) == 8
end

local function port_ok(s)
	return s:match("^%d%d?%d?%d?%d?$") ~= nil and tonumber(s) <= 65535
end

-- The v1 line without its CR LF: valid?
local function v1_ok(line)
	local w = {}
	for x in string.gmatch(line, "[^ ]+") do
		w[#w + 1] = x
	end
	if w[1] == "UNKNOWN" then
		return true
	end
	if line ~= table.concat(w, " ") or #w ~= 5 then
		return false
	end
	local addr_ok = (w[1] == "TCP4" and ipv4_ok) or (w[1] == "TCP6" and ipv6_ok)
	return addr_ok and addr_ok(w[2]) and addr_ok(w[3]) and port_ok(w[4]) and port_ok(w[5])
		or false
end

-- The header at the start of tvb: its length and version; 0 when more
-- bytes are needed to tell; nil and why when there is none.
local function header(tvb)
	local n = tvb:len()
	local head = tvb:raw(0, math.min(n, 12))
	if head == V2_SIG:sub(1, #head) then
		if n < 16 then
			return 0
		end
		local vc = tvb(12, 1):uint()
		if bit32.rshift(vc, 4) ~= 2 or bit32.band(vc, 15) > 1 then
			return nil, string.format("v2 version/command 0x%02x", vc)
		end
		local len = tvb(14, 2):uint()
		-- With the PROXY command the address block must be whole.
		local need = ({ [1] = 12, [2] = 36, [3] = 216 })[bit32.rshift(tvb(13, 1):uint(), 4)]
		if bit32.band(vc, 15) == 1 and need and len < need then
			return nil, string.format("v2 address block of %d bytes", len)
		end
		if n < 16 + len then
			return 0
		end
		return 16 + len, 2
	end
	local prefix = "PROXY "
	if head:sub(1, 6) ~= prefix:sub(1, math.min(n, 6)) then
		return nil, "no signature"
	end
	local raw = tvb:raw(0, math.min(n, V1_MAX))
	local cr = raw:find("\r\n", 7, true)
	if not cr then
		if n >= V1_MAX then
			return nil, "v1 line longer than 107 bytes"
		end
		return 0
	end
	if not v1_ok(raw:sub(7, cr - 1)) then
		return nil, "malformed v1 line"
	end
	return cr + 1, 1
end

-- HTTP on tvb's bytes from off on; reassembly requests moved by off.
local function to_http(tvb, pinfo, tree, off)
	if off >= tvb:len() then
		return off
	end
	-- tshark lowers can_desegment by one for each dissector called in
	-- between: HTTP must still be allowed to ask TCP for more.
	pinfo.can_desegment = pinfo.can_desegment + 1
	local n = http:call(tvb(off):tvb(), pinfo, tree)
	if pinfo.desegment_len > 0 then
		pinfo.desegment_offset = pinfo.desegment_offset + off
	end
	return off + (n or 0)
end

function pxhttp.dissector(tvb, pinfo, tree)
	local stream = f_stream()
	if not ports[pinfo.dst_port] or not stream or started[stream.value] then
		return to_http(tvb, pinfo, tree, 0)
	end
	local len, ver = header(tvb)
	if len == 0 then
		-- The header is not whole yet: ask TCP for the next segment.
		pinfo.desegment_offset = 0
		pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
		return tvb:len()
	end
	started[stream.value] = true
	local t = tree:add(pxhttp, tvb(0, len or 0))
	if not len then
		t:add(f_bad, ver)
		return to_http(tvb, pinfo, tree, 0)
	end
	t:add(f_len, tvb(0, len), len)
	t:add(f_ver, ver)
	-- tshark's own PROXY dissector on exactly the header's bytes.
	DissectorTable.try_heuristics("tcp", tvb(0, len):tvb(), pinfo, tree)
	return to_http(tvb, pinfo, tree, len)
end

local tcp_port = DissectorTable.get("tcp.port")
for p in pairs(ports) do
	tcp_port:add(p, pxhttp)
end
