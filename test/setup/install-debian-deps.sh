#!/usr/bin/env bash
# Installs the Debian packages the tests use as independent peers (a real broker, a real
# Modbus stack written by someone else). Runs as the pretest step; quiet when all are present.
set -u
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v mbpoll >/dev/null 2>&1 || need+=(mbpoll)
# socat makes the pseudo-terminal pairs the Modbus RTU tests run a serial line over.
command -v socat >/dev/null 2>&1 || need+=(socat)
# VictoriaMetrics accepts the InfluxDB v2 write API: the time-series store the influx upstream and
# `cityedge ingest` are tested against (Debian's influxdb is 1.6, which does not).
command -v victoria-metrics >/dev/null 2>&1 || [ -x /usr/bin/victoria-metrics ] || need+=(victoria-metrics)
/usr/bin/python3 -c 'import pymodbus' >/dev/null 2>&1 || need+=(python3-pymodbus)
# pymodbus.server imports serial_asyncio; Debian has it only as a Recommends of python3-pymodbus.
/usr/bin/python3 -c 'import serial_asyncio' >/dev/null 2>&1 || need+=(python3-serial-asyncio)
# Video (智能视频): ffmpeg is what the camera driver runs (live MPEG-1 and JPEG snapshots; ffprobe
# comes with it); the test camera is GStreamer's RTSP server driven from Debian's python3 through
# PyGObject: videotestsrc (base), rtph264pay (good), x264enc (ugly), the clock overlay (x: Pango).
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
/usr/bin/python3 -c 'import gi' >/dev/null 2>&1 || need+=(python3-gi)
/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' >/dev/null 2>&1 \
  || need+=(gir1.2-gst-rtsp-server-1.0)
command -v gst-inspect-1.0 >/dev/null 2>&1 || need+=(gstreamer1.0-tools)
gst_has() { command -v gst-inspect-1.0 >/dev/null 2>&1 && gst-inspect-1.0 --exists "$1" >/dev/null 2>&1; }
gst_has videotestsrc || need+=(gstreamer1.0-plugins-base)
gst_has rtph264pay || need+=(gstreamer1.0-plugins-good)
gst_has x264enc || need+=(gstreamer1.0-plugins-ugly)
gst_has timeoverlay || need+=(gstreamer1.0-x)
# Headless Chromium drives the console's tests (playwright-core).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The console is Chinese by default: without a CJK font its screenshots show boxes.
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "cityedge tests need these Debian packages: ${need[*]}" >&2
  echo "install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages for the tests: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${need[@]}" >/tmp/cityedge-apt.log 2>&1; then
  apt-get update >>/tmp/cityedge-apt.log 2>&1
  apt-get install -y --no-install-recommends "${need[@]}" >>/tmp/cityedge-apt.log 2>&1 || {
    echo "apt-get install failed; see /tmp/cityedge-apt.log" >&2; tail -20 /tmp/cityedge-apt.log >&2; exit 1; }
fi
# Debian starts a system mosquitto on 1883 after install; tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1; then systemctl stop mosquitto victoria-metrics >/dev/null 2>&1 || true; fi
exit 0
