"""Runs one of fmcl's PyTorch benchmark scripts, written for the CPU
(tools/bench_torch.py, tools/bench_unet_torch.py), on another torch device, so
`fmcl bench --torch` can compare fmcl on a GPU with PyTorch on the same GPU:

  python3 tools/torch_on_device.py SCRIPT [ARGS...]   (device: $FMCL_TORCH_DEVICE, default cuda)

The device becomes torch's default (torch.set_default_device, torch >= 2.0), so
every tensor and module the script makes lives there, and the device is
synchronised before every time.perf_counter() call, so the script's timers
measure finished work, not queued launches. tools/device-check.sh points
FMCL_PYTHON at a wrapper that runs this.
"""
import os
import runpy
import sys
import time
import types


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    device = os.environ.get("FMCL_TORCH_DEVICE", "cuda")
    import torch

    dev = torch.device(device)
    what = device
    if dev.type != "cpu":
        if not hasattr(torch, "set_default_device"):
            raise SystemExit("torch_on_device.py: torch %s has no set_default_device (needs 2.0)"
                             % torch.__version__)
        torch.set_default_device(dev)
    if dev.type == "cuda":
        what += " (%s), timers synchronised" % torch.cuda.get_device_name(dev)
        clock = time.perf_counter

        def synchronised():
            torch.cuda.synchronize(dev)
            return clock()

        time.perf_counter = synchronised
    try:
        import numpy  # noqa: F401
    except ImportError:
        # tools/torch_ref_unet.py imports numpy for writing reference files; the
        # U-Net module that bench_unet_torch.py uses needs none of it.
        sys.modules["numpy"] = types.ModuleType("numpy")
        what += ", numpy missing (an empty module stands in)"
    print("# on device %s" % what, flush=True)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
