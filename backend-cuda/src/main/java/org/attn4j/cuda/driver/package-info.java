/**
 * The backend's view of the CUDA driver API: a small interface ({@link org.attn4j.cuda.driver.CudaDriver})
 * and its JCuda implementation. Nothing outside this package touches JCuda.
 */
package org.attn4j.cuda.driver;
