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
