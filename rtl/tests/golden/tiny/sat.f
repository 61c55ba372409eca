sat_dma_decode.v
sat_compute_decode.v
sat_iqueue.v
sat_controller.v
sat_top.v
