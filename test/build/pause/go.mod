module thanos-global-view/test/build/pause

go 1.25.0
