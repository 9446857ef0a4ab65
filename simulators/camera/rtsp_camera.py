#!/usr/bin/python3
# A synthetic RTSP camera (智能视频) for demos and tests: GStreamer's RTSP server (Debian packages
# python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-base/good/ugly, gstreamer1.0-x) serving
# a live test picture as H.264 over RTP. The media is shared: every client watches the one pipeline,
# so N viewers cost one encoder, as a real camera's stream does. ffmpeg alone serves one client at best.
#
# Run it through simulators/camera/index.ts (`cityedge sim camera`), which waits for the port and
# prints the URL. Under Debian's /usr/bin/python3: the python3 first on PATH may not see python3-gi.
#
# Protocol with the launcher: one line `listening PORT` on stdout once the server is bound (the real
# port when 0 was asked for); `client …` lines as viewers come and go; errors on stderr with exit 3
# (packages missing) or 4 (cannot listen).
import argparse
import os
import signal
import sys

DEBIAN_PACKAGES = ('python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good '
                   'gstreamer1.0-plugins-ugly gstreamer1.0-x')


def missing(what):
    sys.stderr.write(f'camera simulator: {what}. It needs the Debian packages {DEBIAN_PACKAGES} '
                     f'under /usr/bin/python3: sudo apt-get install -y {DEBIAN_PACKAGES}\n')
    sys.exit(3)


try:
    import gi
    gi.require_version('Gst', '1.0')
    gi.require_version('GstRtspServer', '1.0')
    from gi.repository import GLib, Gst, GstRtspServer
except (ImportError, ValueError) as e:
    missing(f'cannot load GStreamer\'s RTSP server from Python ({e})')


def parse_args():
    p = argparse.ArgumentParser(description='synthetic RTSP camera')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=8554)
    p.add_argument('--path', default='/cam1')
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=360)
    p.add_argument('--fps', type=int, default=10)
    p.add_argument('--bitrate-kbps', type=int, default=800)
    p.add_argument('--label', default='')
    p.add_argument('--exit-on-stdin-eof', action='store_true',
                   help='exit when stdin closes: the launcher died, even by SIGKILL')
    return p.parse_args()


def say(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


class TestPictureFactory(GstRtspServer.RTSPMediaFactory):
    """Builds the pipeline in code, so the label needs no quoting in a launch line."""

    def __init__(self, args, overlays):
        super().__init__()
        self.args = args
        self.overlays = overlays

    def do_create_element(self, url):
        a = self.args
        # is-live: frames at the camera's pace, not as fast as the CPU allows. Without the Pango
        # overlays the pattern scrolls instead, so consecutive frames still differ.
        src = f'videotestsrc is-live=true pattern=smpte {"" if self.overlays else "horizontal-speed=2"}'
        caps = f'video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1'
        over = ('clockoverlay name=label halignment=left valignment=top shaded-background=true '
                'time-format="%Y-%m-%d %H:%M:%S" ! timeoverlay halignment=right valignment=bottom ! '
                if self.overlays else '')
        # zerolatency: no lookahead or B-frames; a key frame every 2 s so a new viewer (or ffmpeg
        # restarted by the gateway) has a picture within 2 s. One slice per frame: with zerolatency's
        # sliced threads, ffmpeg 5.1 reported "corrupt decoded frame" and showed one slice of each
        # frame over concealment. config-interval=-1 repeats SPS/PPS with every key frame, for
        # clients that missed the SDP's.
        enc = (f'x264enc tune=zerolatency speed-preset=ultrafast key-int-max={max(1, 2 * a.fps)} '
               f'bitrate={a.bitrate_kbps} sliced-threads=false ! video/x-h264,profile=constrained-baseline ! '
               'rtph264pay name=pay0 pt=96 config-interval=-1')
        pipeline = Gst.parse_launch(f'( {src} ! {caps} ! {over}videoconvert ! {enc} )')
        label = pipeline.get_by_name('label')
        if label is not None and a.label:
            label.set_property('text', a.label)
        return pipeline


def main():
    args = parse_args()
    Gst.init(None)
    for element, package in (('videotestsrc', 'gstreamer1.0-plugins-base'), ('rtph264pay', 'gstreamer1.0-plugins-good'),
                             ('x264enc', 'gstreamer1.0-plugins-ugly')):
        if Gst.ElementFactory.find(element) is None:
            missing(f'GStreamer has no {element} (package {package})')
    overlays = Gst.ElementFactory.find('clockoverlay') is not None
    if not overlays:
        sys.stderr.write('camera simulator: no clockoverlay (package gstreamer1.0-x): the picture scrolls instead of showing the time\n')

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = TestPictureFactory(args, overlays)
    # One pipeline (one encoder) for every viewer while any watches; a new one after all have left.
    factory.set_shared(True)
    # Publishing the clock (RFC 7273) makes the media not seekable, as a camera is: otherwise each
    # new viewer's PLAY (ffmpeg asks for Range: npt=0-) seeks the shared pipeline back to 0, and
    # every viewer already watching sees its timestamps jump back.
    factory.set_publish_clock_mode(GstRtspServer.RTSPPublishClockMode.CLOCK_AND_OFFSET)
    server.get_mount_points().add_factory(args.path, factory)

    watching = {'n': 0}

    def on_client(_server, client):
        conn = client.get_connection()
        ip = conn.get_ip() if conn is not None else '?'
        watching['n'] += 1
        say(f'client {ip} connected ({watching["n"]} connected)')

        def on_closed(_client):
            watching['n'] -= 1
            say(f'client {ip} left ({watching["n"]} connected)')
        client.connect('closed', on_closed)

    server.connect('client-connected', on_client)
    if server.attach(None) == 0:
        sys.stderr.write(f'camera simulator: cannot listen on {args.host}:{args.port} (in use, or not an address of this machine)\n')
        sys.exit(4)

    loop = GLib.MainLoop()

    def stop():
        # A signal often comes twice (to the process group, and passed on by the launcher): once
        # stopping, further ones are ignored, so the exit stays clean (status 0).
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        loop.quit()
        return GLib.SOURCE_REMOVE
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, stop)
    if args.exit_on_stdin_eof:
        def on_stdin(fd, _cond):
            if os.read(fd, 4096):
                return True
            return stop()
        GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_stdin)
    say(f'listening {server.get_bound_port()}')
    loop.run()


if __name__ == '__main__':
    main()
