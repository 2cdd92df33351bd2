/* The model (ONNX or .xcnn bytes) and the preprocessed input image (C*H*W
 * little-endian float32), linked into flash as const arrays, each 64-byte
 * aligned (an .xcnn's weights are read in place). mcu.mk passes the paths. */
    .section .mcu_blobs, "a"
    .balign 64
    .global mcu_model, mcu_model_end
mcu_model:
    .incbin MCU_MODEL_PATH
mcu_model_end:
    .balign 64
    .global mcu_image, mcu_image_end
mcu_image:
    .incbin MCU_IMAGE_PATH
mcu_image_end:
